// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createRunHeader } from "../src/header.js";
import { FakeModel } from "./fake-model.js";

function bound(state, options = {}) {
  const model = new FakeModel(state, {});
  const cleanups = [];
  const listen = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  const header = createRunHeader({ prefix: "srw", fallbackName: "(unnamed step)", ...options });
  header.bind(model, listen);
  return { model, header, cleanups };
}

const byId = (el, id) => el.querySelector(`[data-testid="${id}"]`);

describe("createRunHeader", () => {
  it("paints status, name and run id from the traits at once", () => {
    const { header } = bound({ status: "Running", name: "train", run_id: "abc" });
    expect(byId(header.el, "srw-status").textContent).toBe("Running");
    expect(byId(header.el, "srw-name").textContent).toBe("train");
    expect(byId(header.el, "srw-run-id").textContent).toBe("run abc");
  });

  it("falls back to the given name and shows no run id when there is none", () => {
    const { header } = bound({ status: "Queued", name: "", run_id: null }, { prefix: "prw", fallbackName: "(x)" });
    expect(byId(header.el, "prw-name").textContent).toBe("(x)");
    expect(byId(header.el, "prw-run-id").textContent).toBe("");
  });

  it("shows the connection line only while reconnecting, with its detail as text", () => {
    const { model, header } = bound({ connection: "ok", connection_detail: "" });
    expect(header.connection.hidden).toBe(true);
    model.setMany({ connection: "reconnecting", connection_detail: "<b>down</b>" });
    expect(header.connection.hidden).toBe(false);
    expect(header.connection.textContent).toBe("reconnecting… — <b>down</b>");
    expect(header.connection.querySelector("b")).toBeNull();
    model.set("connection", "ok");
    expect(header.connection.hidden).toBe(true);
  });

  it("puts extra parts between the clock and the run id; cleanups remove every handler", () => {
    const extra = document.createElement("span");
    extra.className = "extra";
    const { model, header, cleanups } = bound({ status: "Finished" }, { extra: [extra] });
    const kids = [...header.el.children];
    expect(kids.indexOf(extra)).toBe(kids.length - 2);
    expect(model.listenerCount()).toBeGreaterThan(0);
    for (const fn of cleanups) fn();
    header.dispose();
    expect(model.listenerCount()).toBe(0);
  });
});
