// Usage: what a queue's jobs reserved and used (their descriptions' barge.usage), summed by job
// definition, by the value of a tag, or for the whole queue, as `barge usage` sums them: the
// jobs listed (every status: ListJobs with JOB_NAME "*"), described 100 at a time, an array
// job through its children.
import { all, batch } from "./api.js";
import { el, fmtNum } from "./dom.js";

// Jobs summed at most, newest first; the page says when a queue holds more.
const LIMIT = 10000;

async function describe(ids) {
  const out = [];
  for (let i = 0; i < ids.length; i += 100)
    out.push(...(await batch("DescribeJobs", { jobs: ids.slice(i, i + 100) })).jobs || []);
  return out;
}

function keyOf(job, by) {
  if (by === "queue") return (job.jobQueue || "-").split("/").pop();
  if (by.startsWith("tag:")) return (job.tags || {})[by.slice(4)] ?? "-";
  return (job.jobDefinition || "-").split("/").pop().split(":")[0];
}

export async function usagePage(params) {
  const queues = await all(batch, "DescribeJobQueues", {}, "jobQueues");
  const queue = params.get("queue") || (queues[0] || {}).jobQueueName || "";
  const by = params.get("by") || "definition";
  const tagKey = by.startsWith("tag:") ? by.slice(4) : "";
  const go = (q, b) => { location.hash = `#/usage?queue=${encodeURIComponent(q)}&by=${encodeURIComponent(b)}`; };
  const queueSel = el("select", { id: "usage-queue", onchange: (e) => go(e.target.value, by) },
    queues.map((q) => el("option", { value: q.jobQueueName, selected: q.jobQueueName === queue }, q.jobQueueName)));
  const bySel = el("select", { id: "usage-by" },
    ["definition", "queue", "tag"].map((b) => el("option", { value: b, selected: by === b || (b === "tag" && !!tagKey) }, b)));
  const tagInput = el("input", { id: "usage-tag", placeholder: "tag key", value: tagKey, size: 12 });
  const form = el("form", { id: "usage-form", class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const b = bySel.value === "tag" ? `tag:${tagInput.value.trim()}` : bySel.value;
    if (b === "tag:") return;
    go(queueSel.value, b);
  } }, el("label", {}, "Queue ", queueSel), " ", el("label", {}, "By ", bySel), " ", tagInput, " ",
     el("button", { type: "submit" }, "Sum"));
  if (!queue) return el("section", {}, el("h1", {}, "Usage"), el("p", {}, "No job queues yet."));

  const listed = await all(batch, "ListJobs", { jobQueue: queue, filters: [{ name: "JOB_NAME", values: ["*"] }] },
                           "jobSummaryList", LIMIT);
  const jobs = [];
  for (const j of await describe(listed.map((s) => s.jobId))) {
    const ap = j.arrayProperties || {};
    if (ap.statusSummary && ap.size > 0) {
      // An array job ran nothing itself: its children did.
      const kids = [];
      for (let i = 0; i < ap.size; i++) kids.push(`${j.jobId}:${i}`);
      jobs.push(...(await describe(kids)));
    } else {
      jobs.push(j);
    }
  }
  const groups = new Map();
  for (const j of jobs) {
    const k = keyOf(j, by);
    const g = groups.get(k) || { jobs: 0, vcpu: 0, gib: 0, cpu: 0, peak: 0 };
    const u = (j.barge || {}).usage || {};
    g.jobs++;
    g.vcpu += u.vcpuSeconds || 0;
    g.gib += u.memoryGiBSeconds || 0;
    g.cpu += u.cpuSeconds || 0;
    g.peak = Math.max(g.peak, u.maxMemoryBytes || 0);
    groups.set(k, g);
  }
  const rows = [...groups.entries()].sort((a, b) => b[1].vcpu - a[1].vcpu || (a[0] < b[0] ? -1 : 1));
  const head = by === "definition" ? "Job definition" : by === "queue" ? "Queue" : `Tag ${tagKey}`;
  return el("section", {},
    el("h1", {}, "Usage"), form,
    el("table", { id: "usage-sums" },
      el("thead", {}, el("tr", {}, el("th", {}, head), el("th", { class: "num" }, "Jobs"),
        el("th", { class: "num" }, "vCPU-seconds reserved"), el("th", { class: "num" }, "Memory GiB-seconds reserved"),
        el("th", { class: "num" }, "CPU seconds used"), el("th", { class: "num" }, "Largest peak of memory"))),
      el("tbody", {}, rows.map(([k, g]) => el("tr", { dataset: { key: k } },
        el("td", {}, k), el("td", { class: "num" }, fmtNum(g.jobs, 0)),
        el("td", { class: "num", dataset: { col: "vcpu" } }, fmtNum(g.vcpu, 2)),
        el("td", { class: "num" }, fmtNum(g.gib, 3)),
        el("td", { class: "num", dataset: { col: "cpu" } }, fmtNum(g.cpu, 3)),
        el("td", { class: "num" }, g.peak ? `${fmtNum(g.peak / 1048576, 1)} MiB` : "—"))))),
    listed.length >= LIMIT
      ? el("p", { class: "error", id: "usage-limited" }, `Summed over the newest ${fmtNum(LIMIT, 0)} jobs of the queue `,
           "only; `barge usage` sums them all.")
      : el("p", { class: "small" }, `${fmtNum(jobs.length, 0)} jobs summed (array jobs through their children).`));
}
