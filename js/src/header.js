import { h } from "./dom.js";
import { createStatusBadge, createElapsed } from "./status.js";

// The header line both widgets open with (status badge, name, elapsed clock, run id, plus any
// extra parts such as the reuse badge) and the connection line under it ("reconnecting…").
// `prefix` is the widget's test-id prefix ("srw" or "prw"); `fallbackName` is shown when the
// run has no name. Both read the same traits: status, start_time, end_time, name, run_id,
// connection, connection_detail.
export function createRunHeader({ prefix, fallbackName, extra = [], now, className = "" }) {
  const badge = createStatusBadge({ testId: `${prefix}-status` });
  const elapsed = createElapsed({ now: now ?? (() => Date.now()), testId: `${prefix}-elapsed` });
  const name = h("span", {
    class: prefix === "srw" ? "srw-name" : `srw-name ${prefix}-name`,
    "data-testid": `${prefix}-name`,
  });
  const runId = h("span", { class: "srw-run-id", "data-testid": `${prefix}-run-id` });
  const el = h(
    "div",
    { class: className ? `srw-header ${className}` : "srw-header" },
    badge.el,
    name,
    elapsed.el,
    ...extra,
    runId,
  );
  const connection = h("div", {
    class: "srw-connection",
    "data-testid": `${prefix}-connection`,
    role: "status",
    hidden: true,
  });

  const paint = {
    status(model) {
      badge.update(model.get("status"));
    },
    times(model) {
      elapsed.update(model.get("start_time"), model.get("end_time"));
    },
    name(model) {
      const text = model.get("name");
      name.textContent = typeof text === "string" && text ? text : fallbackName;
      const id = model.get("run_id");
      runId.textContent = typeof id === "string" && id ? `run ${id}` : "";
    },
    connection(model) {
      const reconnecting = model.get("connection") === "reconnecting";
      const detail = model.get("connection_detail");
      connection.hidden = !reconnecting;
      connection.textContent = reconnecting ? `reconnecting…${detail ? ` — ${detail}` : ""}` : "";
    },
  };
  const traits = {
    status: ["status"],
    times: ["start_time", "end_time"],
    name: ["name", "run_id"],
    connection: ["connection", "connection_detail"],
  };

  return {
    el,
    connection,
    badge,
    elapsed,
    // Paints every part now and repaints each when one of its traits changes; `listen` is the
    // widget's own (so its cleanup removes these handlers too).
    bind(model, listen) {
      for (const [part, names] of Object.entries(traits)) {
        const fn = () => paint[part](model);
        fn();
        for (const trait of names) listen(`change:${trait}`, fn);
      }
    },
    dispose() {
      elapsed.dispose();
    },
  };
}
