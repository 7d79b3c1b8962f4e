// Usage: what a queue's jobs reserved and used (their descriptions' barge.usage), summed by job
// definition, by the value of a tag, or for the whole queue, as `barge usage` sums them: every
// job the queue holds, an array job through its children; or the attempts that ended in a window
// (the last day, week...) and the jobs they are of.  The server sums (GetUsage, barge's
// own operation, authorized as batch:GetUsage), a page of jobs a call: a million jobs are a
// few calls rather than a description of each.
import { all, batch, fleet, ApiError } from "./api.js";
import { el, errorBox, fmtNum } from "./dom.js";

// The windows the form offers: the attempts that ended in the last hour, day, week or month
// (GetUsage's endedAfter); "" is every attempt.  A link may also name exact ends, after= and
// before= (epoch milliseconds, endedAfter and endedBefore).
const ENDED = [["", "any time"], ["1h", "the last hour"], ["24h", "the last 24 hours"],
  ["7d", "the last 7 days"], ["30d", "the last 30 days"]];
const SPAN_MS = { h: 3600000, d: 86400000 };

// GetUsage's window from the page's parameters: {} for every attempt.
function windowOf(params) {
  const w = {};
  const ended = /^(\d+)([hd])$/.exec(params.get("ended") || "");
  if (ended) w.endedAfter = Date.now() - Number(ended[1]) * SPAN_MS[ended[2]];
  for (const [p, m] of [["after", "endedAfter"], ["before", "endedBefore"]]) {
    if (/^\d+$/.test(params.get(p) || "")) w[m] = Number(params.get(p));
  }
  return w;
}

// Every page's groups, added up (the peak is the largest); null once the user has left the page
// (a million jobs are a few calls, not to be made for no one).
async function sums(queue, by, win, ctx) {
  const groups = new Map();
  let token;
  do {
    const out = await fleet("GetUsage", { jobQueue: queue, by, ...win, ...(token ? { nextToken: token } : {}) });
    for (const p of out.groups || []) {
      const g = groups.get(p.key) || { jobs: 0, vcpu: 0, gib: 0, cpu: 0, peak: 0 };
      g.jobs += p.jobs || 0;
      g.vcpu += p.vcpuSeconds || 0;
      g.gib += p.memoryGiBSeconds || 0;
      g.cpu += p.cpuSeconds || 0;
      g.peak = Math.max(g.peak, p.maxMemoryBytes || 0);
      groups.set(p.key, g);
    }
    token = out.nextToken;
    if (token && !ctx.alive()) return null;
  } while (token);
  return groups;
}

export async function usagePage(params, ctx) {
  const queues = await all(batch, "DescribeJobQueues", {}, "jobQueues");
  const queue = params.get("queue") || (queues[0] || {}).jobQueueName || "";
  const by = params.get("by") || "definition";
  const tagKey = by.startsWith("tag:") ? by.slice(4) : "";
  const ended = params.get("ended") || "";
  const go = (q, b, e) => {
    location.hash = `#/usage?queue=${encodeURIComponent(q)}&by=${encodeURIComponent(b)}` +
      (e ? `&ended=${encodeURIComponent(e)}` : "");
  };
  const queueSel = el("select", { id: "usage-queue", onchange: (e) => go(e.target.value, by, ended) },
    queues.map((q) => el("option", { value: q.jobQueueName, selected: q.jobQueueName === queue }, q.jobQueueName)));
  const bySel = el("select", { id: "usage-by" },
    ["definition", "queue", "tag"].map((b) => el("option", { value: b, selected: by === b || (b === "tag" && !!tagKey) }, b)));
  const tagInput = el("input", { id: "usage-tag", placeholder: "tag key", value: tagKey, size: 12,
                                 oninput: (e) => e.target.setCustomValidity("") });
  const endedSel = el("select", { id: "usage-ended" },
    ENDED.map(([v, label]) => el("option", { value: v, selected: ended === v }, label)));
  const form = el("form", { id: "usage-form", class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const b = bySel.value === "tag" ? `tag:${tagInput.value.trim()}` : bySel.value;
    // Summing by a tag needs its key: said at the field, as the browser says a required one.
    tagInput.setCustomValidity(b === "tag:" ? "Give the key of the tag to sum by." : "");
    if (b === "tag:") {
      tagInput.reportValidity();
      return;
    }
    go(queueSel.value, b, endedSel.value);
  } }, el("label", {}, "Queue ", queueSel), " ", el("label", {}, "By ", bySel), " ", tagInput, " ",
     el("label", {}, "Attempts ended in ", endedSel), " ",
     el("button", { type: "submit" }, "Sum"));
  if (!queue) return el("section", {}, el("h1", {}, "Usage"), el("p", {}, "No job queues yet."));

  const win = windowOf(params);
  const windowed = Object.keys(win).length > 0;
  // A refusal (a queue that does not exist, a grouping the server does not know) is said above
  // the form, which stays to choose again, as the jobs page does.
  let groups;
  try {
    groups = await sums(queue, by, win, ctx);
  } catch (e) {
    if (!(e instanceof ApiError) || e.aboutCredentials) throw e; // the sign-in form's to show
    return el("section", {}, el("h1", {}, "Usage"), errorBox(e), form);
  }
  if (!groups) return el("section", {}); // left meanwhile: the router draws nothing
  let total = 0;
  for (const g of groups.values()) total += g.jobs;
  const rows = [...groups.entries()].sort((a, b) => b[1].vcpu - a[1].vcpu || (a[0] < b[0] ? -1 : 1));
  const head = by === "definition" ? "Job definition" : by === "queue" ? "Queue" : `Tag ${tagKey}`;
  return el("section", {},
    el("h1", {}, "Usage"), form,
    el("table", { id: "usage-sums" },
      el("thead", {}, el("tr", {}, el("th", {}, head), el("th", { class: "num" }, "Jobs"),
        el("th", { class: "num" }, "vCPU-seconds reserved"), el("th", { class: "num" }, "Memory GiB-seconds reserved"),
        el("th", { class: "num" }, "CPU seconds used"), el("th", { class: "num" }, "Largest peak of memory"))),
      el("tbody", {}, rows.map(([k, g]) => el("tr", { dataset: { key: k === null ? "" : k } },
        el("td", { class: "text" }, k === null ? "(untagged)" : k), el("td", { class: "num" }, fmtNum(g.jobs, 0)),
        el("td", { class: "num", dataset: { col: "vcpu" } }, fmtNum(g.vcpu, 2)),
        el("td", { class: "num" }, fmtNum(g.gib, 3)),
        el("td", { class: "num", dataset: { col: "cpu" } }, fmtNum(g.cpu, 3)),
        el("td", { class: "num" }, g.peak ? `${fmtNum(g.peak / 1048576, 1)} MiB` : "—"))))),
    el("p", { class: "small", id: "usage-total" }, windowed
      ? `${fmtNum(total, 0)} jobs with an attempt that ended in the window, those attempts summed (array jobs through their children).`
      : `${fmtNum(total, 0)} jobs summed (array jobs through their children).`));
}
