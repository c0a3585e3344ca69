import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeModel } from "./fake-model.js";

// The loader (src/loader.js) as the kernel sends it without the code: __SRW_FRONTEND__ replaced
// by a spec whose js is null. The code the kernel's reply carries is imported from a blob URL,
// here a data: URL of a stand-in bundle.
const BUNDLE = `export default { render({ el }) {
  el.dataset.rendered = "yes";
  el.addEventListener("srw-not-live", () => (el.dataset.told = "not live"));
} };`;
let hashes = 0;

async function freshLoader() {
  hashes += 1;
  const hash = `h${hashes}`;
  globalThis.__SRW_FRONTEND__ = { name: "test_widget", hash, js: null, css: null };
  vi.resetModules();
  return { hash, loader: (await import("../src/loader.js")).default };
}

const asks = (model) => model.sent.filter((m) => m?.type === "srw-frontend").length;
const reply = (model, hash) => model.emit({ type: "srw-frontend", hash, js: BUNDLE, css: "" });
const view = () => document.body.appendChild(document.createElement("div"));

describe("the loader without code on the page", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(URL, "createObjectURL").mockReturnValue(`data:text/javascript;base64,${btoa(BUNDLE)}`);
    vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    document.body.textContent = "";
  });

  it("asks its kernel once per model, however many views it has", async () => {
    const { hash, loader } = await freshLoader();
    const model = new FakeModel();
    loader.initialize({ model });
    const el1 = view();
    const el2 = view();
    const renders = [loader.render({ model, el: el1 }), loader.render({ model, el: el2 })];
    vi.advanceTimersByTime(1500);
    expect(asks(model)).toBe(1); // initialize + two renders asked three times
    vi.advanceTimersByTime(5000);
    expect(asks(model)).toBe(1);
    reply(model, hash);
    await Promise.all(renders);
    expect(el1.dataset.rendered).toBe("yes");
    expect(el2.dataset.rendered).toBe("yes");
    expect(model.handlers.get("msg:custom")?.size ?? 0).toBe(0);
  });

  it("stops every model's timer and listener once the code came through any one of them", async () => {
    const { hash, loader } = await freshLoader();
    const a = new FakeModel();
    const b = new FakeModel();
    loader.initialize({ model: a });
    vi.advanceTimersByTime(1500);
    expect(asks(a)).toBe(1);
    loader.initialize({ model: b }); // a widget shown a moment later: its wait has just begun
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    reply(a, hash);
    expect(vi.getTimerCount()).toBe(0);
    expect(b.handlers.get("msg:custom")?.size ?? 0).toBe(0);
    vi.advanceTimersByTime(5000);
    expect([asks(a), asks(b)]).toEqual([1, 0]);
    const el = view();
    await loader.render({ model: b, el });
    expect(el.dataset.rendered).toBe("yes");
  });

  it("tells the view when its kernel went away, beside the note it shows", async () => {
    const { hash, loader } = await freshLoader();
    const model = new FakeModel();
    const el = view();
    const rendered = loader.render({ model, el });
    reply(model, hash);
    await rendered;
    expect(el.dataset.told).toBeUndefined();
    model._fire("comm_live_update");
    expect(el.querySelector(".srw-not-live")).not.toBeNull();
    expect(el.dataset.told).toBe("not live");
  });
});
