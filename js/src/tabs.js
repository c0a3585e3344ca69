import { h } from "./dom.js";

const formatCount = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// A tablist of buttons (roving tabindex: Tab reaches the selected one, arrows/Home/End move).
export function createTabs({ names, panelId, onSelect }) {
  const tabs = new Map();
  let selected = null;

  const list = h("div", { class: "srw-tabs", role: "tablist", "aria-label": "Log streams" });
  for (const name of names) {
    const count = h("span", { class: "srw-tab-count", text: "0" });
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
      count,
    );
    tabs.set(name, { button, count, value: -1 });
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
      t.button.setAttribute("aria-label", `${name}, ${n} ${n === 1 ? "line" : "lines"}`);
    },
  };
}
