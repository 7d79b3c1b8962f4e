// Queues, with their jobs counted by status (DescribeJobQueues's `barge` member).
import { all, batch } from "./api.js";
import { el, badge, STATUSES, fmtNum } from "./dom.js";

export async function queuesPage() {
  const queues = await all(batch, "DescribeJobQueues", {}, "jobQueues");
  const jobsLink = (q, s, n) =>
    el("a", { href: `#/jobs?queue=${encodeURIComponent(q)}&status=${s}`, class: n ? "" : "zero" },
       fmtNum(n, 0));
  const rows = queues.map((q) => {
    const b = q.barge || {};
    const counts = b.jobsByStatus || {};
    const kids = b.arrayChildrenByStatus || {};
    return el("tr", { dataset: { queue: q.jobQueueName } },
      el("td", {}, el("a", { href: `#/jobs?queue=${encodeURIComponent(q.jobQueueName)}&status=RUNNABLE` },
                      q.jobQueueName)),
      el("td", {}, q.state), el("td", {}, badge(q.status)), el("td", { class: "num" }, q.priority),
      STATUSES.map((s) => el("td", { class: "num", dataset: { status: s } },
        jobsLink(q.jobQueueName, s, counts[s] || 0),
        kids[s] ? el("span", { class: "kids", title: "array children" }, ` +${fmtNum(kids[s], 0)}`) : null)),
      el("td", { class: "small" }, (q.computeEnvironmentOrder || [])
        .map((o) => o.computeEnvironment.split("/").pop()).join(", ")));
  });
  return el("section", {},
    el("h1", {}, "Job queues"),
    queues.length === 0 ? el("p", {}, "No job queues yet.") :
    el("table", { id: "queues" },
      el("thead", {}, el("tr", {}, el("th", {}, "Queue"), el("th", {}, "State"), el("th", {}, "Status"),
        el("th", {}, "Priority"), STATUSES.map((s) => el("th", { class: "num" }, s)),
        el("th", {}, "Compute environments"))),
      el("tbody", {}, rows)),
    el("p", { class: "small" }, "Counts are of jobs and array parents; the children of arrays ",
       "are the +N beside them."));
}
