// What a job was submitted with beyond its command, as AWS's console shows it on a job's page:
// its resources, timeout and retry strategy, and its tags, parameters and environment
// variables.  A list of more than LONG entries starts folded, so that a job with a hundred
// variables does not push its graph and log pages down.
import { el, fmtNum } from "./dom.js";

const LONG = 10;

function resources(j) {
  const c = j.container || {};
  const rr = Object.fromEntries((c.resourceRequirements || []).map((r) => [r.type, r.value]));
  const vcpu = rr.VCPU ?? c.vcpus, mem = rr.MEMORY ?? c.memory;
  const consumables = ((j.consumableResourceProperties || {}).consumableResourceList || [])
    .map((r) => `${fmtNum(r.quantity, 3)} ${String(r.consumableResource || "").split("/").pop()}`);
  return [vcpu !== undefined ? `${vcpu} vCPU` : null,
          mem !== undefined ? `${fmtNum(mem, 0)} MiB memory` : null,
          rr.GPU !== undefined ? `${rr.GPU} GPU` : null, ...consumables].filter(Boolean).join(" · ");
}

// "3 attempts; EXIT on exit code 1*; RETRY on reason Host EC2*".
function retry(r) {
  if (!r) return null;
  const rule = (x) => [x.action, ...[["exit code", x.onExitCode], ["reason", x.onReason],
                                     ["status reason", x.onStatusReason]]
    .filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `on ${k} ${v}`)].join(" ");
  return [r.attempts !== undefined ? `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}` : null,
          ...(r.evaluateOnExit || []).map(rule)].filter(Boolean).join("; ");
}

function settings(j) {
  const row = (k, v) => (v === undefined || v === null || v === "" ? null : el("tr", {}, el("th", {}, k), el("td", {}, v)));
  const t = (j.timeout || {}).attemptDurationSeconds;
  const rows = [
    row("Resources", resources(j)),
    row("Timeout", t !== undefined ? `${fmtNum(t, 0)} seconds an attempt` : null),
    row("Retry strategy", retry(j.retryStrategy)),
    row("Scheduling priority", j.schedulingPriority),
    row("Share identifier", j.shareIdentifier),
    row("Propagate tags", j.propagateTags ? "yes (to the job's containers)" : null),
  ].filter(Boolean);
  return rows.length ? el("table", { class: "facts", id: "job-settings" }, el("tbody", {}, rows)) : null;
}

// One list of names and values, open when short.  `open` carries the reader's choice over a
// redraw (the page reads the job again every 2 seconds).
function list(id, title, pairs, open) {
  if (!pairs.length) return null;
  return el("details", { id, class: "kv", open: open ?? pairs.length <= LONG },
    el("summary", {}, `${title} (${pairs.length})`),
    el("table", {}, el("tbody", {}, pairs.map(([k, v]) =>
      el("tr", {}, el("th", { class: "mono" }, k), el("td", { class: "mono" }, v))))));
}

// What each drawn part was drawn from, to draw it again only when that changes.
const drawnFrom = new WeakMap();

// The part of the page, or the same node when the job's inputs are unchanged since `prev` drew.
export function submitted(j, prev) {
  const c = j.container || {};
  const tags = Object.entries(j.tags || {}), params = Object.entries(j.parameters || {});
  const env = (c.environment || []).map((e) => [e.name, e.value ?? ""]);
  const key = JSON.stringify([tags, params, env, resources(j), j.timeout, j.retryStrategy,
                              j.schedulingPriority, j.shareIdentifier, j.propagateTags]);
  if (prev && drawnFrom.get(prev) === key) return prev;
  const was = (id) => (prev ? prev.querySelector(`#${id}`)?.open : undefined);
  const lists = [list("job-tags", "Tags", tags, was("job-tags")),
                 list("job-parameters", "Parameters", params, was("job-parameters")),
                 list("job-env", "Environment variables", env, was("job-env"))].filter(Boolean);
  const part = el("div", { id: "job-inputs" },
    settings(j),
    lists.length ? el("div", { class: "kv-lists" }, lists)
                 : el("p", { class: "small" }, "No tags, parameters or environment variables."));
  drawnFrom.set(part, key);
  return part;
}
