import { h } from "./dom.js";

const formatCount = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// A tablist of buttons (roving tabindex: Tab reaches the selected one, arrows/Home/End move).
export function createTabs({ names, panelId, onSelect }) {
  const tabs = new Map();
  let selected = null;

  const list = h("div", { class: "srw-tabs", role: "tablist", "aria-label": "Log streams" });
  for (const name of names) {
    const count = h("span", { class: "srw-tab-count", text: "0" });
    const mark = h("span", { class: "srw-tab-mark", "aria-hidden": "true", text: "!", hidden: true });
    const button = h(
      "button",
      {
        type: "button",
        class: "srw-tab",
        role: "tab",
        id: `${panelId}-tab-${name}`,
        "aria-selected": "false",
        "aria-controls": panelId,
        tabindex: "-1",
        "data-testid": `srw-tab-${name}`,
        "data-stream": name,
        onclick: () => select(name),
      },
      h("span", { class: "srw-tab-name", text: name }),
      mark,
      count,
    );
    tabs.set(name, { button, count, mark, note: "", value: -1 });
    list.append(button);
  }

  list.addEventListener("keydown", (event) => {
    const order = [...tabs.keys()];
    const i = order.indexOf(selected);
    let next = null;
    if (event.key === "ArrowRight") next = order[(i + 1) % order.length];
    else if (event.key === "ArrowLeft") next = order[(i - 1 + order.length) % order.length];
    else if (event.key === "Home") next = order[0];
    else if (event.key === "End") next = order[order.length - 1];
    if (next == null) return;
    event.preventDefault();
    select(next);
    tabs.get(next).button.focus();
  });

  function select(name) {
    if (!tabs.has(name) || name === selected) return;
    selected = name;
    for (const [n, t] of tabs) {
      const on = n === name;
      t.button.setAttribute("aria-selected", String(on));
      t.button.tabIndex = on ? 0 : -1;
      t.button.classList.toggle("srw-tab-selected", on);
    }
    onSelect?.(name);
  }

  const label = (name, t) =>
    `${name}, ${t.value} ${t.value === 1 ? "line" : "lines"}${t.note ? `, ${t.note}` : ""}`;

  return {
    el: list,
    select,
    get selected() {
      return selected;
    },
    tabId: (name) => tabs.get(name)?.button.id,
    setCount(name, n) {
      const t = tabs.get(name);
      if (!t || t.value === n) return;
      t.value = n;
      t.count.textContent = formatCount(n);
      t.button.setAttribute("aria-label", label(name, t));
    },
    // Marks a tab (a "!" and `note` in its label and title), or clears the mark with "".
    mark(name, note) {
      const t = tabs.get(name);
      if (!t) return;
      t.note = note ? String(note) : "";
      t.mark.hidden = !t.note;
      t.button.classList.toggle("srw-tab-marked", Boolean(t.note));
      t.button.title = t.note ? `${name} ${t.note}` : "";
      if (t.value >= 0) t.button.setAttribute("aria-label", label(name, t));
    },
  };
}
