import { afterEach, describe, expect, it, vi } from "vitest";
import {
  LIST_OUTPUTS_NOTE,
  downloadNote,
  kernelSaveNote,
  outputExists,
  progressText,
  renderStepWidget,
} from "../src/step_widget.js";
import { FakeModel, byTestId } from "./fake-model.js";

let mounted = [];
afterEach(() => {
  for (const m of mounted) m.dispose();
  mounted = [];
  document.body.textContent = "";
  vi.restoreAllMocks();
});

function mount(state) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderStepWidget({ model, el });
  mounted.push(handle);
  return { model, el, handle, get: (id) => byTestId(el, id) };
}

describe("download wording", () => {
  it("says bytes and percent while receiving, bytes alone when the total is unknown", () => {
    expect(progressText(1_572_864, 3_145_728)).toBe("1.5 MiB of 3.0 MiB (50%)");
    expect(progressText(3_145_728, 3_145_728)).toBe("3.0 MiB of 3.0 MiB (100%)");
    expect(progressText(2048, null)).toBe("2.0 KiB");
    expect(progressText(0, 0)).toBe("0 B");
  });

  it("names the file, its size and that a folder became a zip", () => {
    const file = { name: "model", filename: "model.bin", status: "done", size: 3_072_000 };
    expect(downloadNote(file)).toBe("Saved model.bin (2.9 MiB) to your browser's downloads");
    const zip = { name: "dataset", filename: "dataset.zip", status: "done", size: 1900 };
    expect(downloadNote(zip, true)).toBe("Saved dataset.zip (1.9 KiB) (the folder as a zip) to your browser's downloads");
    expect(downloadNote({ name: "dataset", status: "pending" }, true)).toBe("Preparing dataset as a zip…");
    expect(downloadNote({ name: "m", filename: "m.bin", status: "receiving", received: 512, size: 1024 })).toBe(
      "Downloading m.bin: 512 B of 1.0 KiB (50%)",
    );
    expect(downloadNote({ name: "m", status: "error", error: "boom" })).toBe("boom");
    expect(downloadNote(null)).toBe("");
  });

  it("says where a save into the kernel's folder went", () => {
    expect(kernelSaveNote({ name: "model", status: "saving" })).toBe("Saving model into the kernel's folder…");
    expect(kernelSaveNote({ name: "model", status: "done", path: "model/model.bin", bytes: 2048 })).toBe(
      "Saved in the kernel's folder: model/model.bin (2.0 KiB)",
    );
    expect(kernelSaveNote({ status: "error", error: "refused" })).toBe("refused");
  });

  it("offers an output only once it exists", () => {
    expect(outputExists({ name: "m", size: 0 })).toBe(true);
    expect(outputExists({ name: "m", size: null })).toBe(false);
    expect(outputExists({ name: "m" })).toBe(false);
  });
});

describe("the outputs table", () => {
  it("offers no download for a declared output the running step has not written", () => {
    const { model, get, el } = mount({ status: "Running", outputs: [{ name: "model", size: null, file_count: null, is_dir: true }] });
    expect(get("srw-download-model")).toBeNull();
    expect(get("srw-save-local-model")).toBeNull();
    expect(el.querySelector(".srw-out-pending").textContent).toBe("when the step ends");
    model.setMany({ status: "Finished", outputs: [{ name: "model", size: 10, file_count: 1, is_dir: false }] });
    expect(get("srw-download-model")).not.toBeNull();
    expect(el.querySelector(".srw-out-pending")).toBeNull();
  });

  it("says 'No outputs' for a finished or failed step, 'No outputs yet' while it runs", () => {
    const { model, get } = mount({ status: "Running", outputs: [] });
    expect(get("srw-outputs").textContent).toContain("No outputs yet");
    model.set("status", "Failed");
    expect(get("srw-outputs").textContent).toContain("No outputs");
    expect(get("srw-outputs").textContent).not.toContain("No outputs yet");
  });

  it("reports progress and the result in a line under the row, the row itself unchanged", async () => {
    vi.spyOn(URL, "createObjectURL").mockReturnValue("blob:x");
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const { model, get, el } = mount({ status: "Finished", outputs: [{ name: "dataset", size: 4, file_count: 2, is_dir: true }] });
    const row = el.querySelector("tr.srw-out-row");
    const cells = () => [...row.cells].map((c) => c.innerHTML);
    const before = cells();
    get("srw-download-dataset").click();
    const id = model.sent.at(-1).request_id;
    model.emit({ type: "download_start", request_id: id, filename: "dataset.zip", size: null, mime: "application/zip" });
    model.emit({ type: "download_chunk", request_id: id, received: 2 }, [new Uint8Array([1, 2])]);
    const note = el.querySelector("tr.srw-out-note");
    expect(note.hidden).toBe(false);
    expect(note.contains(get("srw-progress"))).toBe(true);
    expect(note.contains(get("srw-cancel-dataset"))).toBe(true);
    expect(note.textContent).toContain("Downloading dataset.zip: 2 B");
    model.emit({ type: "download_end", request_id: id, bytes: 2 });
    expect(note.textContent).toContain("Saved dataset.zip (2 B) (the folder as a zip)");
    // the download button is disabled while it runs and enabled again: same cells as before
    expect(cells()).toEqual(before);
  });

  it("saves into the kernel's folder and shows the path the kernel wrote", () => {
    const { model, get, el } = mount({ status: "Finished", outputs: [{ name: "model", size: 5, file_count: 1, is_dir: false }] });
    get("srw-save-local-model").click();
    const request = model.sent.at(-1);
    expect(request).toMatchObject({ type: "save_local", output: "model", path: "" });
    expect(get("srw-save-local-model").disabled).toBe(true);
    expect(el.querySelector("tr.srw-out-note").textContent).toContain("Saving model into the kernel's folder");
    model.emit({ type: "save_local_done", request_id: "someone-else", path: "x", bytes: 1 });
    expect(get("srw-save-local-model").disabled).toBe(true);
    model.emit({ type: "save_local_done", request_id: request.request_id, path: "model/model.bin", bytes: 5 });
    expect(get("srw-save-local-message-model").textContent).toBe("Saved in the kernel's folder: model/model.bin (5 B)");
    expect(get("srw-save-local-model").disabled).toBe(false);
    get("srw-save-local-model").click();
    model.emit({ type: "save_local_error", request_id: model.sent.at(-1).request_id, message: "exists" });
    const message = get("srw-save-local-message-model");
    expect(message.textContent).toBe("exists");
    expect(message.classList.contains("srw-dl-error")).toBe(true);
  });

  it("lists the outputs of a run of another tool only when asked, then shows the table", () => {
    const { model, get, el } = mount({ status: "Finished", outputs: [], outputs_on_request: true });
    const button = get("srw-list-outputs");
    expect(button.textContent).toBe("List outputs");
    expect(get("srw-outputs").textContent).toContain(LIST_OUTPUTS_NOTE);
    expect(get("srw-outputs").textContent).not.toContain("No outputs");
    expect(model.sent.filter((m) => m.type === "list_outputs")).toEqual([]);
    button.click();
    button.click(); // a second click while the kernel lists sends nothing more
    expect(model.sent.filter((m) => m.type === "list_outputs")).toEqual([{ type: "list_outputs" }]);
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe("Listing…");
    model.emit({ type: "list_outputs_error", message: "Listing the outputs failed: HTTP 500" });
    expect(get("srw-list-outputs-error").textContent).toBe("Listing the outputs failed: HTTP 500");
    expect(button.disabled).toBe(false);
    button.click();
    expect(get("srw-list-outputs-error").hidden).toBe(true);
    model.setMany({ outputs: [{ name: "data.csv", size: 8, file_count: 1, is_dir: false }], outputs_on_request: false });
    expect(get("srw-list-outputs")).toBeNull();
    expect(get("srw-download-data.csv")).not.toBeNull();
    expect(el.querySelector("tr.srw-out-row .srw-out-size").textContent).toBe("8 B");
  });

  it("shows no button for a step that declares its outputs", () => {
    const { get } = mount({ status: "Finished", outputs: [] });
    expect(get("srw-list-outputs")).toBeNull();
    expect(get("srw-outputs").textContent).toContain("No outputs");
  });
});
