// @ts-check
import { h, frameScheduler, breakableName } from "./dom.js";
import { formatValue } from "./metrics_data.js";
import { createChart } from "./metric_chart.js";

/** Keys a range input handles itself. */
const SLIDER_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"]);

// Charts shown at first; "Show more" adds as many again (a run may log thousands of names).
export const CHART_PAGE = 24;
const byName = new Intl.Collator("en", { numeric: true }).compare;

// The chart colours: the computed theme variables of `el` (theme.css maps them to JupyterLab's),
// so the canvases follow the theme as the CSS does.
export function readTheme(el) {
  const css = getComputedStyle(el);
  const [line, muted, grid, warn, font] = ["brand", "fg-muted", "border", "warn", "ui-font"].map((v) =>
    css.getPropertyValue(`--srw-${v}`).trim(),
  );
  return { line, muted, grid, warn, font };
}

// Theme changes, watched once for every area on the page: JupyterLab switches data-jp-theme-light
// / -name on <body>; without JupyterLab the OS colour scheme decides (theme.css).
const themeListeners = new Set();
let themeWatch = null;
function onThemeChange(fn) {
  themeListeners.add(fn);
  if (!themeWatch) {
    const all = () => themeListeners.forEach((f) => f());
    const media = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
    const observer = new MutationObserver(all);
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    media?.addEventListener?.("change", all);
    themeWatch = () => {
      observer.disconnect();
      media?.removeEventListener?.("change", all);
    };
  }
  return () => {
    themeListeners.delete(fn);
    if (!themeListeners.size && themeWatch) themeWatch(), (themeWatch = null);
  };
}

// A titled two-column table of text cells (rows: [name, value, title]); empty: nothing.
const table = (testId, title, rows) =>
  rows.length
    ? [
        h("div", { class: "srw-metrics-heading", text: title }),
        h(
          "div",
          { class: "srw-kv-wrap" },
          h(
            "table",
            { class: "srw-kv", "data-testid": testId },
            h("thead", {}, h("tr", {}, h("th", { text: "name" }), h("th", { text: "value" }))),
            h("tbody", {}, ...rows.map(([k, v, t]) => h("tr", {}, h("th", { title: t || null }, ...breakableName(k)), h("td", { text: v })))),
          ),
        ),
      ]
    : [];

// One logged image: a thumbnail button (click: full size) from its data: URL, or the note saying
// why there is none. Only a PNG data URL is used as a source, so nothing is ever fetched.
function image(img) {
  const name = String(img.name ?? img.path ?? "");
  const src = typeof img.src === "string" && img.src.startsWith("data:image/png;base64,") ? img.src : "";
  const button = src
    ? h(
        "button",
        {
          type: "button",
          class: "srw-thumb-button",
          "aria-expanded": "false",
          "aria-label": `${name}: show full size`,
          onclick: () => button.setAttribute("aria-expanded", String(button.getAttribute("aria-expanded") !== "true")),
        },
        h("img", { class: "srw-thumb", src, alt: name }),
      )
    : h("div", { class: "srw-thumb-note", text: img.note || "no preview" });
  return h("figure", { class: "srw-image", "data-testid": `srw-image-${name}` }, button, h("figcaption", { text: name }));
}

// The metrics area of a StepRunWidget: a chart per metric with more than one point, the metrics
// logged once and the params as tables, the images as thumbnails; hidden while it has nothing.
// `changed()` draws at the next animation frame, once, however many messages came; the smoothing
// slider applies to every chart, as TensorBoard's does. `themeRoot` is where the colours are read.
export function createMetricsArea({ store, themeRoot }) {
  const charts = new Map(); // name -> chart
  let limit = CHART_PAGE;
  let params = [];
  let images = [];
  let theme = null;
  let scalarsKey = "";
  let imagesKey = "";
  let frames = 0;
  let timers = [];
  const schedule = () => scheduler.schedule();

  const slider = h("input", {
    type: "range",
    min: 0,
    max: 0.99,
    step: 0.01,
    value: 0,
    "data-testid": "srw-smoothing",
    "aria-label": "Smoothing (weight of the moving average)",
    // the arrow keys move the slider: JupyterLab's notebook would take them (ArrowUp selects the
    // cell above) — the attribute tells Lumino's shortcuts to leave them, stopPropagation the rest
    "data-lm-suppress-shortcuts": "true",
    onkeydown: (event) => {
      if (SLIDER_KEYS.has(event.key)) event.stopPropagation();
    },
    oninput: () => {
      const w = Math.min(0.99, +slider.value || 0);
      weight.textContent = w;
      for (const c of charts.values()) c.smoothing = w;
      schedule();
    },
  });
  const weight = h("output", { class: "srw-smoothing-value", text: 0 });
  const toolbar = h("label", { class: "srw-smoothing" }, "Smoothing ", slider, weight);
  const grid = h("div", { class: "srw-charts", "data-testid": "srw-charts" });
  const more = h("button", {
    type: "button",
    class: "srw-button srw-charts-more",
    "data-testid": "srw-charts-more",
    onclick: () => {
      limit += CHART_PAGE;
      schedule();
    },
  });
  const scalars = h("div");
  const paramsEl = h("div");
  const imagesEl = h("div", { class: "srw-images", "data-testid": "srw-images" });
  const el = h(
    "section",
    { class: "srw-metrics", "data-testid": "srw-metrics", "aria-label": "Metrics", hidden: true },
    toolbar,
    grid,
    more,
    h("div", { class: "srw-metrics-tables" }, scalars, paramsEl),
    imagesEl,
  );

  function syncTheme() {
    const next = readTheme(themeRoot);
    if (JSON.stringify(next) === JSON.stringify(theme)) return;
    theme = next;
    for (const c of charts.values()) c.setTheme(theme);
    schedule();
  }
  // The new theme's stylesheet may apply a moment after the switch: read the colours again then.
  const unwatchTheme = onThemeChange(() => {
    syncTheme();
    timers.forEach(clearTimeout);
    timers = [250, 1000].map((ms) => setTimeout(syncTheme, ms));
  });
  // Plot widths come from the observer (reading clientWidth each frame would force a layout).
  const widths = new WeakMap();
  const resize =
    globalThis.ResizeObserver &&
    new ResizeObserver((entries) => {
      for (const e of entries) widths.set(e.target, e.contentRect.width);
      schedule();
    });

  function frame() {
    frames++;
    if (!theme?.line) {
      // Not read yet, or read before the view was in the page (no styles then).
      const t = readTheme(themeRoot);
      if (t.line || !theme) (theme = t), charts.forEach((c) => c.setTheme(t));
    }
    const names = store.names().sort(byName);
    const isChart = (n) => store.get(n).n > 1 || store.get(n).count > 1;
    const chartNames = names.filter(isChart);
    el.hidden = !names.length && !params.length && !images.length;
    toolbar.hidden = !chartNames.length;

    // Charts: the first `limit`, in name order.
    const shown = chartNames.slice(0, limit);
    for (const [name, c] of charts) if (!shown.includes(name)) resize?.unobserve(c.plotEl), c.dispose(), charts.delete(name);
    const list = shown.map((name) => {
      if (!charts.has(name)) {
        const c = createChart(store.get(name), { smoothing: +slider.value, theme });
        charts.set(name, c);
        resize?.observe(c.plotEl);
      }
      return charts.get(name);
    });
    list.forEach((c, i) => grid.children[i] !== c.el && grid.insertBefore(c.el, grid.children[i] ?? null));
    const rest = chartNames.length - shown.length;
    more.hidden = rest <= 0;
    more.textContent = `Show more charts (${rest} not shown)`;
    list.forEach((c) => c.draw(widths.get(c.plotEl) ?? 0));

    // Metrics logged once.
    const once = names.filter((n) => !isChart(n)).map((n) => store.get(n));
    const key = once.map((s) => `${s.name}\0${s.version}\0${s.description}`).join("\0");
    if (key !== scalarsKey) {
      scalarsKey = key;
      scalars.replaceChildren(...table("srw-scalars", "Metrics", once.map((s) => [s.name, formatValue(s.value[0]), s.description])));
    }

    const ik = JSON.stringify(images);
    if (ik !== imagesKey) {
      imagesKey = ik;
      imagesEl.replaceChildren(...(images.length ? [h("div", { class: "srw-metrics-heading", text: "Images" })] : []), ...images.map(image));
    }
  }
  const scheduler = frameScheduler(frame);

  return {
    el,
    charts,
    slider,
    changed: schedule,
    setParams(p) {
      params = p && typeof p === "object" ? Object.keys(p).sort(byName).map((k) => [k, String(p[k] ?? "")]) : [];
      paramsEl.replaceChildren(...table("srw-params", "Parameters", params));
      schedule();
    },
    setImages(list) {
      images = Array.isArray(list) ? list.filter((v) => v && typeof v === "object") : [];
      schedule();
    },
    // Frames drawn and canvas redraws so far (the benchmark counts them).
    stats: () => ({ frames, redraws: [...charts.values()].reduce((n, c) => n + c.redraws, 0) }),
    flush: () => scheduler.flush(),
    dispose() {
      scheduler.dispose();
      resize?.disconnect();
      unwatchTheme();
      timers.forEach(clearTimeout);
      for (const c of charts.values()) c.dispose();
      charts.clear();
    },
  };
}
