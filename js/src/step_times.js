import { formatElapsed } from "./status.js";
import { isTime, stepDuration, stepStatus } from "./pipeline_steps.js";

// The times a step's tooltip shows (graph node, timeline bar): when it was queued, started and
// ended, in the browser's local time, and how long it ran. A step that has not started shows
// no time at all (its queue time is when the pipeline was submitted, not a wait of its own).

const pad2 = (n) => String(n).padStart(2, "0");

// 24-hour local time, "14:03:07"; the date comes first when it is not the day of `now`. Written
// out (not toLocaleTimeString) so every browser and test shows the same form.
export function clockTime(ms, now = Date.now()) {
  if (!isTime(ms)) return "";
  const d = new Date(ms);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const n = new Date(now);
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? time : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time}`;
}

// ["Queued 14:02:01", "Started 14:02:03", "Ended 14:03:10", "Ran 1m 07s"] (lines of a tooltip).
export function stepTimes(step, now = Date.now()) {
  const status = stepStatus(step);
  if (status === "NotStarted" || !step) return ["Not started yet"];
  const lines = [];
  if (isTime(step.queued_time)) lines.push(`Queued ${clockTime(step.queued_time, now)}`);
  if (isTime(step.start_time)) lines.push(`Started ${clockTime(step.start_time, now)}`);
  if (isTime(step.end_time)) lines.push(`Ended ${clockTime(step.end_time, now)}`);
  const ms = stepDuration(step, now);
  if (ms != null) lines.push(`${isTime(step.end_time) ? "Ran" : "Running for"} ${formatElapsed(ms)}`);
  else if (!isTime(step.start_time) && status === "Queued") lines.push("Not started yet");
  return lines;
}

// A node's tooltip: its view's title (name, status, reuse, error) and then its times.
export function nodeTitle(view, step, now = Date.now()) {
  return stepStatus(step) === "NotStarted" ? view.title : [view.title, ...stepTimes(step, now)].join("\n");
}
