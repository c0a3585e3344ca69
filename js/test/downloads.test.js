import { afterEach, describe, expect, it, vi } from "vitest";
import { Downloads, toBytes } from "../src/downloads.js";

function setup(options = {}) {
  const sent = [];
  const changes = [];
  const saved = [];
  const dl = new Downloads({
    send: (m) => sent.push(m),
    onChange: (name) => changes.push(name),
    save: (blob, filename) => {
      saved.push({ blob, filename });
      return "blob:fake";
    },
    ...options,
  });
  return { dl, sent, changes, saved };
}

const bytes = (...values) => new Uint8Array(values);

describe("Downloads", () => {
  afterEach(() => vi.useRealTimers());

  it("sends a download request with a fresh request id", () => {
    const { dl, sent } = setup();
    const id = dl.start("model");
    expect(sent).toEqual([{ type: "download", output: "model", request_id: id }]);
    expect(dl.state("model").status).toBe("pending");
    expect(dl.start("model")).toBeNull(); // one at a time per output
    const other = dl.start("metrics");
    expect(other).not.toBe(id);
  });

  it("assembles chunks in order into a Blob with the right bytes", async () => {
    const { dl, saved } = setup();
    const id = dl.start("model");
    dl.handle({ type: "download_start", request_id: id, filename: "model.bin", size: 6, mime: "application/x-test" });
    // anywidget hands buffers over as DataViews, possibly into a larger ArrayBuffer.
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]).buffer;
    dl.handle({ type: "download_chunk", request_id: id, received: 3 }, [new DataView(big, 2, 3)]);
    expect(dl.state("model")).toMatchObject({ status: "receiving", received: 3, size: 6 });
    dl.handle({ type: "download_chunk", request_id: id, received: 5 }, [bytes(4, 5).buffer]);
    dl.handle({ type: "download_chunk", request_id: id, received: 6 }, [bytes(6)]);
    dl.handle({ type: "download_end", request_id: id, bytes: 6 });
    expect(saved).toHaveLength(1);
    expect(saved[0].filename).toBe("model.bin");
    expect(saved[0].blob.type).toBe("application/x-test");
    expect([...new Uint8Array(await saved[0].blob.arrayBuffer())]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(dl.state("model").status).toBe("done");
  });

  it("saves through an object URL and an <a download> element", () => {
    const create = vi.spyOn(URL, "createObjectURL").mockReturnValue("blob:test-url");
    const revoke = vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    const clicks = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function () {
      clicks.push({ href: this.getAttribute("href"), download: this.download, attached: this.isConnected });
    });
    vi.useFakeTimers();
    const container = document.createElement("div");
    document.body.append(container);
    const dl = new Downloads({ send: () => {}, container, revokeDelayMs: 1000 });
    const id = dl.start("data");
    dl.handle({ type: "download_start", request_id: id, filename: "data.zip", size: 2, mime: "application/zip" });
    dl.handle({ type: "download_chunk", request_id: id, received: 2 }, [bytes(80, 75)]);
    dl.handle({ type: "download_end", request_id: id, bytes: 2 });
    expect(create).toHaveBeenCalledTimes(1);
    const blob = create.mock.calls[0][0];
    expect(blob.size).toBe(2);
    expect(clicks).toEqual([{ href: "blob:test-url", download: "data.zip", attached: true }]);
    expect(container.querySelector("a")).toBeNull();
    vi.advanceTimersByTime(1000);
    expect(revoke).toHaveBeenCalledWith("blob:test-url");
    create.mockRestore();
    revoke.mockRestore();
    click.mockRestore();
  });

  it("acknowledges every chunk with the running total it holds", () => {
    const { dl, sent } = setup();
    const id = dl.start("model");
    dl.handle({ type: "download_start", request_id: id, filename: "m", size: 6, mime: "" });
    dl.handle({ type: "download_chunk", request_id: id, received: 3 }, [bytes(1, 2, 3)]);
    dl.handle({ type: "download_chunk", request_id: id, received: 5 }, [bytes(4, 5)]);
    dl.handle({ type: "download_chunk", request_id: id, received: 6 }, [bytes(6)]);
    dl.handle({ type: "download_end", request_id: id, bytes: 6 });
    expect(sent.slice(1)).toEqual([
      { type: "download_ack", request_id: id, received: 3 },
      { type: "download_ack", request_id: id, received: 5 },
      { type: "download_ack", request_id: id, received: 6 },
    ]);
  });

  it("lets the kernel send past its window only as acks come back", () => {
    // The kernel side of the flow control (downloads.py ChunkSender): at most WINDOW bytes
    // sent and not yet acknowledged.
    const WINDOW = 8;
    const CHUNK = 3;
    const total = 40;
    const dl = new Downloads({ send: (m) => kernel.onMessage(m), save: () => "blob:x" });
    const kernel = {
      sent: 0,
      acked: 0,
      id: null,
      onMessage(m) {
        if (m.type === "download_ack") this.acked = Math.max(this.acked, m.received);
        this.pump();
      },
      pump() {
        while (this.id && this.sent < total && this.sent - this.acked < WINDOW) {
          const n = Math.min(CHUNK, total - this.sent);
          this.sent += n;
          dl.handle({ type: "download_chunk", request_id: this.id, received: this.sent }, [new Uint8Array(n)]);
        }
        if (this.id && this.sent === total) {
          const id = this.id;
          this.id = null;
          dl.handle({ type: "download_end", request_id: id, bytes: total });
        }
      },
    };
    kernel.id = dl.start("big");
    dl.handle({ type: "download_start", request_id: kernel.id, filename: "big", size: total, mime: "" });
    kernel.pump();
    expect(dl.state("big")).toMatchObject({ status: "done", received: total });
  });

  it("cancels a running download in the kernel and ignores what still arrives", () => {
    const { dl, sent, changes, saved } = setup();
    const id = dl.start("model");
    dl.handle({ type: "download_start", request_id: id, filename: "m", size: 6, mime: "" });
    dl.handle({ type: "download_chunk", request_id: id, received: 3 }, [bytes(1, 2, 3)]);
    expect(dl.cancel("model")).toBe(true);
    expect(sent.at(-1)).toEqual({ type: "download_cancel", request_id: id });
    expect(dl.state("model").status).toBe("canceled");
    expect(dl.busy("model")).toBe(false);
    expect(changes.at(-1)).toBe("model");
    const before = sent.length;
    expect(dl.handle({ type: "download_chunk", request_id: id, received: 6 }, [bytes(4, 5, 6)])).toBe(false);
    expect(dl.handle({ type: "download_error", request_id: id, message: "download canceled" })).toBe(false);
    expect(sent.length).toBe(before); // no ack for a canceled request
    expect(dl.state("model").status).toBe("canceled");
    expect(saved).toHaveLength(0);
    expect(dl.cancel("model")).toBe(false);
    expect(dl.start("model")).not.toBeNull();
  });

  it("cancels in the kernel what it gives up on itself", () => {
    vi.useFakeTimers();
    const { dl, sent } = setup({ idleTimeoutMs: 5000 });
    const bad = dl.start("bad");
    dl.handle({ type: "download_chunk", request_id: bad, received: 1 }, ["not bytes"]);
    expect(dl.state("bad").status).toBe("error");
    expect(sent.at(-1)).toEqual({ type: "download_cancel", request_id: bad });
    const slow = dl.start("slow");
    vi.advanceTimersByTime(5000);
    expect(sent.at(-1)).toEqual({ type: "download_cancel", request_id: slow });
    const open = dl.start("open");
    dl.dispose();
    expect(sent.at(-1)).toEqual({ type: "download_cancel", request_id: open });
    expect(sent.filter((m) => m.type === "download_cancel")).toHaveLength(3);
  });

  it("reports a short download instead of saving it", () => {
    const { dl, saved } = setup();
    const id = dl.start("model");
    dl.handle({ type: "download_start", request_id: id, filename: "m", size: 4, mime: "" });
    dl.handle({ type: "download_chunk", request_id: id, received: 2 }, [bytes(1, 2)]);
    dl.handle({ type: "download_end", request_id: id, bytes: 4 });
    expect(saved).toHaveLength(0);
    expect(dl.state("model")).toMatchObject({ status: "error" });
    expect(dl.state("model").error).toMatch(/2 of 4 bytes/);
  });

  it("shows download_error and allows a new try", () => {
    const { dl, changes } = setup();
    const id = dl.start("model");
    dl.handle({ type: "download_error", request_id: id, message: "output not found: model" });
    expect(dl.state("model")).toMatchObject({ status: "error", error: "output not found: model" });
    expect(changes.at(-1)).toBe("model");
    expect(dl.start("model")).not.toBeNull();
  });

  it("ignores messages for requests it did not make", () => {
    const { dl, saved } = setup();
    expect(dl.handle({ type: "download_end", request_id: "someone-else", bytes: 0 })).toBe(false);
    expect(saved).toHaveLength(0);
  });

  it("gives up when the kernel stops answering", () => {
    vi.useFakeTimers();
    const { dl } = setup({ idleTimeoutMs: 5000 });
    dl.start("model");
    vi.advanceTimersByTime(5000);
    expect(dl.state("model").status).toBe("error");
  });

  it("normalises buffer kinds to bytes", () => {
    expect([...toBytes(bytes(1, 2).buffer)]).toEqual([1, 2]);
    expect(toBytes("nope")).toBeNull();
  });
});
