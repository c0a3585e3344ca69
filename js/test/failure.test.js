import { afterEach, describe, expect, it } from "vitest";
import { failureStream, renderStepWidget } from "../src/step_widget.js";
import { FakeLogKernel, FakeModel, byTestId } from "./fake-model.js";

let mounted = [];
afterEach(() => {
  for (const m of mounted) m.dispose();
  mounted = [];
  document.body.textContent = "";
});

function mount(state) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.append(el);
  const handle = renderStepWidget({ model, el });
  mounted.push(handle);
  return { model, el, handle, get: (id) => byTestId(el, id) };
}

const logs = (stderr, job = "runner: exit code 1\n") => ({
  stdout: { tail: "starting\n", first_line: 0, total_bytes: 9, seq: 1 },
  stderr: { tail: stderr, first_line: 0, total_bytes: stderr.length, seq: stderr ? 1 : 0 },
  job: { tail: job, first_line: 0, total_bytes: job.length, seq: 1 },
});
const failed = { status: "Failed", error: "exit code 1: ValueError: bad input" };

describe("failureStream", () => {
  it("is stderr when it has lines, else job, and nothing unless failed", () => {
    expect(failureStream("Failed", { stderr: 3, job: 1 })).toBe("stderr");
    expect(failureStream("Failed", { stderr: 0, job: 1 })).toBe("job");
    expect(failureStream("Failed", {})).toBe("job");
    expect(failureStream("Finished", { stderr: 3 })).toBeNull();
    expect(failureStream("Running", { stderr: 3 })).toBeNull();
  });
});

describe("a failed step's view", () => {
  it("opens on stderr, marks that tab and leads there from the error line", () => {
    const { get, handle } = mount({ ...failed, logs: logs("Traceback (most recent call last):\nValueError\n") });
    expect(handle.tabs.selected).toBe("stderr");
    const tab = get("srw-tab-stderr");
    expect(tab.classList.contains("srw-tab-marked")).toBe(true);
    expect(tab.getAttribute("aria-label")).toContain("explains the failure");
    expect(get("srw-tab-stdout").classList.contains("srw-tab-marked")).toBe(false);
    expect(get("srw-error").textContent).toContain("ValueError: bad input");
    const link = get("srw-error-link");
    expect(link.hidden).toBe(false);
    expect(link.textContent).toContain("stderr");
    handle.tabs.select("stdout");
    link.click();
    expect(handle.tabs.selected).toBe("stderr");
  });

  it("opens on the job log when stderr is empty", () => {
    const { get, handle } = mount({ ...failed, logs: logs("") });
    expect(handle.tabs.selected).toBe("job");
    expect(get("srw-tab-job").classList.contains("srw-tab-marked")).toBe(true);
    expect(get("srw-error-link").textContent).toContain("job");
  });

  it("moves to stderr when its text arrives later, unless the user chose a tab", () => {
    const { model, handle, get } = mount({ status: "Running" });
    const kernel = new FakeLogKernel(model);
    expect(handle.tabs.selected).toBe("stdout");
    model.setMany({ status: "Failed", error: "exit code 1" });
    handle.flush();
    expect(handle.tabs.selected).toBe("job");
    kernel.write("stderr", "Traceback\n");
    handle.flush();
    expect(handle.tabs.selected).toBe("stderr");
    expect(get("srw-tab-job").classList.contains("srw-tab-marked")).toBe(false);

    const second = mount({ ...failed, logs: logs("") });
    second.get("srw-tab-stdout").click();
    new FakeLogKernel(second.model).write("stderr", "Traceback\n");
    second.handle.flush();
    expect(second.handle.tabs.selected).toBe("stdout");
    expect(second.get("srw-tab-stderr").classList.contains("srw-tab-marked")).toBe(true);
  });

  it("opens on stdout with no mark and no link when the step did not fail", () => {
    const { get, handle } = mount({ status: "Finished", logs: logs("a warning\n") });
    expect(handle.tabs.selected).toBe("stdout");
    expect(get("srw-error").hidden).toBe(true);
    expect(get("srw-tab-stderr").classList.contains("srw-tab-marked")).toBe(false);
  });
});
