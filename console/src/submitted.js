// What a job was submitted with beyond its command, as AWS's console shows it on a job's page:
// its resources, timeout and retry strategy, its tags, parameters, environment variables and
// secrets (each secret's name and where its value comes from: the value itself is never in the
// description), and for a multi-node job its node ranges, each with what its containers were
// submitted with.  A list of more than LONG entries starts folded, so that a job with a hundred
// variables does not push its graph and log pages down; so do the node ranges when there are
// more than RANGES of them.
import { el, fmtNum } from "./dom.js";

const LONG = 10;
const RANGES = 2;

// "2 vCPU · 2,048 MiB memory · 1 GPU · 3 licenses": a container's resources and the consumable
// resources of the job (or of a node range).
function resources(c, consumable) {
  const rr = Object.fromEntries((c.resourceRequirements || []).map((r) => [r.type, r.value]));
  const vcpu = rr.VCPU ?? c.vcpus, mem = rr.MEMORY ?? c.memory;
  const consumables = ((consumable || {}).consumableResourceList || [])
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

const row = (k, v) => (v === undefined || v === null || v === "" ? null : el("tr", {}, el("th", {}, k), el("td", {}, v)));
const facts = (attrs, rows) => (rows.some(Boolean) ? el("table", { class: "facts", ...attrs }, el("tbody", {}, rows)) : null);
const envOf = (c) => (c.environment || []).map((e) => [e.name, e.value ?? ""]);
const secretsOf = (c) => (c.secrets || []).map((s) => [s.name, s.valueFrom ?? ""]);

// A multi-node job's own description (not one of its nodes', which have nodeDetails).
const rangesOf = (j) => (j.nodeProperties && !j.nodeDetails ? j.nodeProperties.nodeRangeProperties || [] : []);

function settings(j) {
  const t = (j.timeout || {}).attemptDurationSeconds;
  const np = j.nodeProperties;
  return facts({ id: "job-settings" }, [
    row("Resources", resources(j.container || {}, j.consumableResourceProperties)),
    np && !j.nodeDetails ? row("Nodes", `${np.numNodes} nodes; the main node is node ${np.mainNode}`) : null,
    row("Timeout", t !== undefined ? `${fmtNum(t, 0)} seconds an attempt` : null),
    row("Retry strategy", retry(j.retryStrategy)),
    row("Scheduling priority", j.schedulingPriority),
    row("Share identifier", j.shareIdentifier),
    row("Propagate tags", j.propagateTags ? "yes (to the job's containers)" : null),
  ]);
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

// The nodes a range's targetNodes ("0", "1:", ":3", "2:5") names, in words: "nodes 1 to 2".
function span(target, np) {
  const m = /^(\d*)(:?)(\d*)$/.exec(String(target ?? ""));
  if (!m || (!m[1] && !m[3])) return null;
  const lo = Number(m[1] || 0), hi = m[2] ? (m[3] ? Number(m[3]) : np.numNodes - 1) : lo;
  const main = np.mainNode >= lo && np.mainNode <= hi;
  return lo === hi ? `node ${lo}${main ? ", the main node" : ""}`
    : `nodes ${lo} to ${hi}${main ? `, the main node ${np.mainNode} among them` : ""}`;
}

// One node range: which nodes, and what their containers were submitted with, as a job's own
// container is shown (its command as the job's head shows it).
function nodeRange(r, i, np, was, fold) {
  const c = r.container || {};
  const id = `job-node-range-${i}`, words = span(r.targetNodes, np);
  const lists = [list(`job-node-env-${i}`, "Environment variables", envOf(c), was(`job-node-env-${i}`)),
                 list(`job-node-secrets-${i}`, "Secrets", secretsOf(c), was(`job-node-secrets-${i}`))]
    .filter(Boolean);
  return el("details", { id, class: "node-range", dataset: { target: r.targetNodes ?? "" },
                         open: was(id) ?? !fold },
    el("summary", {}, `Target nodes ${r.targetNodes ?? "?"}`, words ? ` (${words})` : "",
       c.image ? ` · ${c.image}` : ""),
    facts({ class: "facts node-container" }, [
      row("Image", c.image),
      row("Command", c.command ? el("span", { class: "mono" }, c.command.join(" ")) : null),
      row("Resources", resources(c, r.consumableResourceProperties)),
      row("Instance type", c.instanceType ?? (r.instanceTypes || []).join(", ")),
    ]),
    lists.length ? el("div", { class: "kv-lists" }, lists)
                 : el("p", { class: "small" }, "No environment variables or secrets."));
}

// What each drawn part was drawn from, to draw it again only when that changes.
const drawnFrom = new WeakMap();

// The part of the page, or the same node when the job's inputs are unchanged since `prev` drew.
export function submitted(j, prev) {
  const c = j.container || {};
  const tags = Object.entries(j.tags || {}), params = Object.entries(j.parameters || {});
  const env = envOf(c), secrets = secretsOf(c), ranges = rangesOf(j);
  const key = JSON.stringify([tags, params, env, secrets, resources(c, j.consumableResourceProperties),
                              j.timeout, j.retryStrategy, j.schedulingPriority, j.shareIdentifier,
                              j.propagateTags, ranges.length ? j.nodeProperties : null]);
  if (prev && drawnFrom.get(prev) === key) return prev;
  const was = (id) => (prev ? prev.querySelector(`#${id}`)?.open : undefined);
  const lists = [list("job-tags", "Tags", tags, was("job-tags")),
                 list("job-parameters", "Parameters", params, was("job-parameters")),
                 list("job-env", "Environment variables", env, was("job-env")),
                 list("job-secrets", "Secrets", secrets, was("job-secrets"))].filter(Boolean);
  const part = el("div", { id: "job-inputs" },
    settings(j),
    lists.length ? el("div", { class: "kv-lists" }, lists)
                 : el("p", { class: "small" }, ranges.length ? "No tags or parameters."
                                                             : "No tags, parameters, environment variables or secrets."),
    ranges.length ? el("div", { id: "job-node-ranges" },
      el("h3", {}, `Node ranges (${ranges.length})`),
      ranges.map((r, i) => nodeRange(r, i, j.nodeProperties, was, ranges.length > RANGES))) : null);
  drawnFrom.set(part, key);
  return part;
}
