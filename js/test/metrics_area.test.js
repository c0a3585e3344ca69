import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderStepWidget } from "../src/step_widget.js";
import { CHART_PAGE } from "../src/metrics_area.js";
import { FakeModel, byTestId } from "./fake-model.js";

const XSS = "<img src=x onerror=alert(1)>";
const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
let mounted = [];

function mount(state = {}) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderStepWidget({ model, el });
  mounted.push(handle);
  const get = (id) => byTestId(el, id);
  return { model, el, handle, get, flush: () => handle.flush() };
}

const series = (n, f = (i) => 1 / (i + 1), t0 = 1_700_000_000_000) =>
  Array.from({ length: n }, (_, i) => [i, f(i), t0 + i * 1000]);
const metric = (points, seq = 1, extra = {}) => ({ points, count: points.length, seq, description: "", ...extra });
const chart = (el, name) => byTestId(el, `srw-chart-${name}`);
const plotOf = (el, name) => chart(el, name).querySelector("[data-testid=srw-chart-plot]");
const readoutOf = (el, name) => chart(el, name).querySelector("[data-testid=srw-chart-readout]").textContent;
const key = (el, k) => el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
const rowsOf = (table) => [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));

beforeEach(() => {
  mounted = [];
});

afterEach(() => {
  for (const h of mounted) h.dispose();
  document.body.textContent = "";
});

describe("StepRunWidget metrics area", () => {
  it("is hidden while there are no metrics, params or images", () => {
    const { get, model, flush } = mount();
    expect(get("srw-metrics").hidden).toBe(true);
    model.set("metrics", {});
    model.set("params", {});
    model.set("images", []);
    flush();
    expect(get("srw-metrics").hidden).toBe(true);
    model.set("params", { lr: "0.1" });
    flush();
    expect(get("srw-metrics").hidden).toBe(false);
  });

  it("draws a chart per metric with more than one point, a table for the others and the params", () => {
    const { el, get } = mount({
      metrics: {
        loss: metric(series(3), 3, { description: "training loss" }),
        final_acc: metric([[0, 0.93, 1]], 1, { description: "on the test set" }),
        sampled: metric([[0, 1, 1]], 4, { count: 2 }), // one point in the trait, two on the server
      },
      params: { "steprun.script": "train.py", epochs: "3", lr: "0.01" },
    });
    expect(get("srw-metrics").hidden).toBe(false);
    const charts = [...get("srw-charts").querySelectorAll(".srw-chart")].map((c) => c.dataset.testid);
    expect(charts).toEqual(["srw-chart-loss", "srw-chart-sampled"]);
    expect(chart(el, "loss").textContent).toContain("training loss");
    const label = plotOf(el, "loss").getAttribute("aria-label");
    expect(label).toBe("loss: 3 points, steps 0 to 2, last 0.333333, min 0.333333, max 1");
    expect(plotOf(el, "loss").getAttribute("tabindex")).toBe("0");
    expect(readoutOf(el, "loss")).toMatch(/^last: step 2 · 0\.333333 · /);
    expect(rowsOf(get("srw-scalars"))).toEqual([["final_acc", "0.93"]]);
    expect(get("srw-scalars").querySelector("tbody th").title).toBe("on the test set");
    expect(rowsOf(get("srw-params"))).toEqual([["epochs", "3"], ["lr", "0.01"], ["steprun.script", "train.py"]]);
    expect(get("srw-smoothing")).not.toBeNull();
  });

  it("lets a narrow cell break a parameter's name only after its separators", () => {
    const { get } = mount({ params: { "steprun.allow_reuse": "false", "a/b-c:d": "1", plain: "2" } });
    const names = [...get("srw-params").querySelectorAll("tbody th")];
    const parts = (th) => [...th.childNodes].map((n) => (n.nodeName === "WBR" ? "|" : n.textContent)).join("");
    expect(names.map(parts)).toEqual(["a/|b-|c:|d", "plain", "steprun.|allow_|reuse"]);
    expect(names.map((th) => th.textContent)).toEqual(["a/b-c:d", "plain", "steprun.allow_reuse"]);
  });

  it("renders names, descriptions, params and image names from the server as text", () => {
    const { el, get } = mount({
      metrics: { [XSS]: metric(series(2), 1, { description: XSS }), [`${XSS}1`]: metric([[0, 1, 1]]) },
      params: { [XSS]: XSS },
      images: [{ name: XSS, path: "images/x.png", src: "", size: 10, note: XSS }],
    });
    expect(el.querySelectorAll("img").length).toBe(0);
    expect(el.textContent).toContain(XSS);
    expect(get("srw-params").textContent).toBe(`namevalue${XSS}${XSS}`);
  });

  it("shows images as thumbnails from PNG data URLs only, with the note when there is none", () => {
    const { get } = mount({
      images: [
        { name: "confusion", path: "images/confusion.png", src: PNG, size: 70, note: "" },
        { name: "huge", path: "images/huge.png", src: "", size: 3_200_000, note: "too large to preview (3.2 MB)" },
        { name: "remote", path: "images/remote.png", src: "http://127.0.0.1:9/x.png", size: 1, note: "" },
      ],
    });
    const images = get("srw-images");
    const imgs = images.querySelectorAll("img");
    expect(imgs.length).toBe(1);
    expect(imgs[0].getAttribute("src")).toBe(PNG);
    expect(imgs[0].getAttribute("alt")).toBe("confusion");
    expect(byTestId(images, "srw-image-huge").textContent).toContain("too large to preview (3.2 MB)");
    expect(byTestId(images, "srw-image-remote").textContent).toContain("no preview");
    const button = byTestId(images, "srw-image-confusion").querySelector("button");
    button.click();
    expect(button.getAttribute("aria-expanded")).toBe("true");
    button.click();
    expect(button.getAttribute("aria-expanded")).toBe("false");
  });

  it("applies metric messages in seq order, once per frame, and asks for a sync on a gap", () => {
    const { el, model, handle, flush } = mount({ metrics: { loss: metric(series(2), 2) } });
    const syncsAtRender = model.sent.filter((m) => m.type === "sync").length;
    expect(syncsAtRender).toBe(1); // one sync serves logs and metrics
    // the kernel's answer: a snapshot as of seq 2, which the view already has
    model.emit({ type: "metric_snapshot", name: "loss", points: series(2), count: 2, seq: 2 });
    const frames = handle.metricsArea.stats().frames;
    model.emit({ type: "metric", name: "loss", points: [[1, 0.5, 5]], seq: 2 }); // already in the trait
    for (let seq = 3; seq < 53; seq++) model.emit({ type: "metric", name: "loss", points: [[seq - 1, 1 / seq, seq]], seq });
    expect(handle.metricsArea.stats().frames).toBe(frames); // nothing drawn yet: waits for the frame
    flush();
    expect(handle.metricsArea.stats().frames).toBe(frames + 1);
    expect(plotOf(el, "loss").getAttribute("aria-label")).toMatch(/^loss: 52 points, steps 0 to 51, last 0\.0192308/);
    model.emit({ type: "metric", name: "loss", points: [[99, 0, 0]], seq: 60 });
    expect(model.sent.filter((m) => m.type === "sync").length).toBe(syncsAtRender + 1);
    model.emit({ type: "metric_snapshot", name: "loss", points: series(100), count: 100, seq: 60 });
    flush();
    expect(plotOf(el, "loss").getAttribute("aria-label")).toMatch(/^loss: 100 points, steps 0 to 99/);
  });

  it("moves a metric from the table to a chart when its second point arrives", () => {
    const { el, get, model, flush } = mount({ metrics: { acc: metric([[0, 0.5, 1]]) } });
    expect(rowsOf(get("srw-scalars"))).toEqual([["acc", "0.5"]]);
    expect(chart(el, "acc")).toBeNull();
    model.emit({ type: "metric", name: "acc", points: [[1, 0.75, 2]], seq: 2 });
    flush();
    expect(chart(el, "acc")).not.toBeNull();
    expect(get("srw-scalars")).toBeNull();
  });

  it("draws a metric first seen in a message", () => {
    const { el, get, model, flush } = mount();
    model.emit({ type: "metric", name: "val/loss", points: series(5), seq: 1 });
    flush();
    expect(get("srw-metrics").hidden).toBe(false);
    expect(plotOf(el, "val/loss").getAttribute("aria-label")).toContain("5 points");
  });

  it("reads NaN and infinities and says how many are not finite", () => {
    const { el } = mount({
      metrics: { m: metric([[0, 1, 1], [1, "NaN", 2], [2, "Infinity", 3], [3, "-Infinity", 4], [4, 3, 5]]) },
    });
    expect(plotOf(el, "m").getAttribute("aria-label")).toBe("m: 5 points, steps 0 to 4, last 3, min 1, max 3, 3 not finite");
  });

  it("sorts points whose steps go backwards before drawing", () => {
    const { el, model, flush } = mount({ metrics: { m: metric([[5, 1, 1], [6, 2, 2]]) } });
    model.emit({ type: "metric", name: "m", points: [[0, 9, 3], [7, 4, 4]], seq: 2 });
    flush();
    const plot = plotOf(el, "m");
    expect(plot.getAttribute("aria-label")).toBe("m: 4 points, steps 0 to 7, last 4, min 1, max 9");
    key(plot, "Home");
    expect(readoutOf(el, "m")).toMatch(/^step 0 · 9 · /);
  });

  it("is keyboard reachable: arrows, Home/End, PageUp/PageDown move a cursor that is announced", () => {
    const { el } = mount({ metrics: { loss: metric(series(100, (i) => i * 2)) } });
    const plot = plotOf(el, "loss");
    const live = chart(el, "loss").querySelector("[aria-live]");
    plot.focus();
    expect(document.activeElement).toBe(plot);
    key(plot, "ArrowLeft");
    expect(readoutOf(el, "loss")).toMatch(/^step 98 · 196 · /);
    expect(live.textContent).toMatch(/^loss, step 98 · 196 · /);
    key(plot, "Home");
    expect(readoutOf(el, "loss")).toMatch(/^step 0 · 0 · /);
    key(plot, "ArrowLeft");
    expect(readoutOf(el, "loss")).toMatch(/^step 0 · /);
    key(plot, "PageDown");
    expect(readoutOf(el, "loss")).toMatch(/^step 10 · 20 · /);
    key(plot, "ArrowRight");
    expect(readoutOf(el, "loss")).toMatch(/^step 11 · 22 · /);
    key(plot, "End");
    expect(readoutOf(el, "loss")).toMatch(/^step 99 · 198 · /);
    key(plot, "Escape");
    expect(readoutOf(el, "loss")).toMatch(/^last: step 99/);
    expect(live.textContent).toBe("");
  });

  it("shows the smoothed value beside the raw one when smoothing is on", () => {
    const { el, get, flush } = mount({ metrics: { loss: metric([[0, 1, 1], [1, 3, 2]]) } });
    expect(readoutOf(el, "loss")).not.toContain("smoothed");
    const slider = get("srw-smoothing");
    expect([slider.min, slider.max, slider.step]).toEqual(["0", "0.99", "0.01"]);
    slider.value = "0.5";
    slider.dispatchEvent(new Event("input"));
    flush();
    // debiased EMA: (0.25 + 1.5) / 0.75
    expect(readoutOf(el, "loss")).toMatch(/^last: step 1 · 3 \(smoothed 2\.33333\)/);
  });

  it("shows the first charts and the rest on demand", () => {
    const metrics = {};
    for (let i = 0; i < CHART_PAGE + 6; i++) metrics[`m${i}`] = metric(series(3));
    const { get, flush } = mount({ metrics });
    expect(get("srw-charts").children.length).toBe(CHART_PAGE);
    const more = get("srw-charts-more");
    expect(more.hidden).toBe(false);
    expect(more.textContent).toContain("6 not shown");
    // numeric order: m2 before m10
    const names = [...get("srw-charts").children].map((c) => c.dataset.testid.slice("srw-chart-".length));
    expect(names.slice(0, 3)).toEqual(["m0", "m1", "m2"]);
    more.click();
    flush();
    expect(get("srw-charts").children.length).toBe(CHART_PAGE + 6);
    expect(more.hidden).toBe(true);
  });

  it("removes its handlers on dispose", () => {
    const { model, handle } = mount({ metrics: { loss: metric(series(3)) }, params: { a: "1" } });
    handle.dispose();
    mounted = [];
    expect(model.listenerCount()).toBe(0);
  });
});

describe("StepRunWidget metrics area, later trait values", () => {
  it("takes descriptions from a later trait without replacing newer points", () => {
    const { el, get, model, flush } = mount();
    model.emit({ type: "metric", name: "loss", points: series(3), seq: 1 });
    model.emit({ type: "metric", name: "acc", points: [[0, 0.5, 1]], seq: 1 });
    model.emit({ type: "metric", name: "loss", points: [[3, 0.1, 9]], seq: 2 });
    flush();
    model.set("metrics", {
      loss: metric(series(3), 1, { description: "training loss" }),
      acc: metric([[0, 0.5, 1]], 1, { description: "accuracy" }),
    });
    flush();
    expect(chart(el, "loss").textContent).toContain("training loss");
    expect(plotOf(el, "loss").getAttribute("aria-label")).toMatch(/^loss: 4 points/);
    expect(get("srw-scalars").querySelector("tbody th").title).toBe("accuracy");
  });
});
