// The jobs of a queue, or the children of an array job (array=ID): ListJobs with its status,
// name and time filters, a page at a time.
//
// ListJobs takes either a status or filters, not both (a filter lists every status, as AWS's
// does).  With both chosen, the console asks for filtered pages and keeps the jobs of that
// status, reading on until it has a page's worth or the listing ends.  "Any status" without a
// filter is the filter AFTER_CREATED_AT 0: every job, newest first.
import { all, batch, ApiError } from "./api.js";
import { el, badge, errorBox, fmtTime, jobHref, STATUSES } from "./dom.js";

const PAGE = 50;

export function jobsHref(p) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v) q.set(k, v);
  return "#/jobs?" + q.toString();
}

function toMs(local) {
  if (!local) return null;
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? null : t;
}

async function fetchPage(p) {
  const filters = [];
  if (p.name) filters.push({ name: "JOB_NAME", values: [p.name] });
  const after = toMs(p.after), before = toMs(p.before);
  if (after !== null) filters.push({ name: "AFTER_CREATED_AT", values: [String(after)] });
  if (before !== null) filters.push({ name: "BEFORE_CREATED_AT", values: [String(before)] });
  if (!filters.length && !p.status) filters.push({ name: "AFTER_CREATED_AT", values: ["0"] });
  const input = { ...(p.array ? { arrayJobId: p.array } : { jobQueue: p.queue }), maxResults: PAGE };
  if (!filters.length) {
    input.jobStatus = p.status;
    const out = await batch("ListJobs", { ...input, ...(p.token ? { nextToken: p.token } : {}) });
    return { jobs: out.jobSummaryList || [], next: out.nextToken };
  }
  input.filters = filters;
  if (!p.status || p.status === "") {
    const out = await batch("ListJobs", { ...input, ...(p.token ? { nextToken: p.token } : {}) });
    return { jobs: out.jobSummaryList || [], next: out.nextToken };
  }
  // A status and filters: filtered pages, the status kept here.
  input.maxResults = 1000;
  let token = p.token, calls = 0;
  const jobs = [];
  do {
    const out = await batch("ListJobs", { ...input, ...(token ? { nextToken: token } : {}) });
    jobs.push(...(out.jobSummaryList || []).filter((j) => j.status === p.status));
    token = out.nextToken;
    calls++;
  } while (token && jobs.length < PAGE && calls < 20);
  return { jobs, next: token, scanned: true };
}

// A reason of a page's length (CancelJob's is free text) cut short in a row; the job's page has it whole.
const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

// An array or its child, a multi-node job or its node.
function kind(j) {
  const a = j.arrayProperties, n = j.nodeProperties;
  if (a) return a.size !== undefined ? `array of ${a.size}` : `child ${a.index}`;
  if (n) return n.numNodes !== undefined ? `${n.numNodes} nodes` : `node ${n.nodeIndex}${n.isMainNode ? " (main)" : ""}`;
  return "";
}

function pageParams(params, queue) {
  return { queue, status: params.get("status") || "", name: params.get("name") || "",
           after: params.get("after") || "", before: params.get("before") || "",
           token: params.get("token") || "", array: params.get("array") || "" };
}

export async function jobsPage(params) {
  // The queues (for the form) and the page at once, when the address names the queue.
  const named = params.get("queue");
  const early = named || params.get("array") ? fetchPage(pageParams(params, named || "")) : null;
  if (early) early.catch(() => {}); // awaited below; a refusal is reported from there
  const queues = await all(batch, "DescribeJobQueues", {}, "jobQueues");
  const p = pageParams(params, named || (queues[0] && queues[0].jobQueueName) || "");
  if (!p.queue && !p.array) return el("section", {}, el("h1", {}, "Jobs"), el("p", {}, "No job queues yet."));
  // A listing refused (a queue or an array job that does not exist, a stale token) is said above
  // the form, which stays to choose another: a queue, as an array that is not one has no children.
  let page, refused = null;
  try {
    page = await (early || fetchPage(p));
  } catch (e) {
    if (e instanceof ApiError && e.aboutCredentials) throw e; // the sign-in form's to show
    refused = e;
  }
  const inArray = p.array && !refused;
  const form = el("form", { id: "job-filters", class: "filters",
    onsubmit: (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      location.hash = jobsHref({ queue: f.get("queue"), status: f.get("status"), name: f.get("name"),
                                 after: f.get("after"), before: f.get("before"), array: f.get("array") });
    } },
    inArray ? el("input", { type: "hidden", name: "array", value: p.array }) : null,
    el("label", { hidden: inArray }, "Queue ", el("select", { name: "queue" },
      queues.map((q) => el("option", { value: q.jobQueueName, selected: q.jobQueueName === p.queue },
                           q.jobQueueName)))),
    el("label", {}, "Status ", el("select", { name: "status" },
      el("option", { value: "" }, "any"),
      STATUSES.map((s) => el("option", { value: s, selected: s === p.status }, s)))),
    el("label", {}, "Name ", el("input", { name: "name", value: p.name, placeholder: "name or prefix*",
                                           size: 18 })),
    el("label", {}, "Created after ", el("input", { name: "after", type: "datetime-local", step: 1,
                                                    value: p.after })),
    el("label", {}, "before ", el("input", { name: "before", type: "datetime-local", step: 1,
                                             value: p.before })),
    el("button", { type: "submit" }, "Show"));
  const title = el("h1", {}, p.array ? ["Children of array job ", el("a", { href: jobHref(p.array) }, p.array)] : "Jobs");
  if (refused) return el("section", {}, title, errorBox(refused), form);
  const rows = page.jobs.map((j) => el("tr", { dataset: { job: j.jobId } },
    el("td", {}, el("a", { href: jobHref(j.jobId) }, j.jobName)),
    el("td", { class: "mono small" }, j.jobId),
    el("td", {}, badge(j.status)),
    el("td", { class: "small" }, kind(j)),
    el("td", { class: "small" }, fmtTime(j.createdAt)),
    el("td", { class: "small" }, fmtTime(j.startedAt)),
    el("td", { class: "small" }, fmtTime(j.stoppedAt)),
    el("td", { class: "num" }, j.container && j.container.exitCode !== undefined ? j.container.exitCode : ""),
    el("td", { class: "small text", title: j.statusReason && j.statusReason.length > 200 ? j.statusReason : null },
       clip(j.statusReason || "", 200))));
  const nav = el("div", { class: "pager" },
    p.token ? el("a", { href: jobsHref({ ...p, token: "" }), id: "first-page" }, "« First page") : null,
    p.token ? el("a", { href: "#", id: "prev-page", onclick: (e) => { e.preventDefault(); history.back(); } },
                 "‹ Previous") : null,
    page.next ? el("a", { href: jobsHref({ ...p, token: page.next }), id: "next-page" }, "Next page ›") : null);
  return el("section", {},
    title,
    form,
    page.scanned ? el("p", { class: "small" }, "A status with a name or time filter: the status is ",
                      "picked out of the filtered listing, so a page may hold fewer jobs.") : null,
    rows.length === 0 ? el("p", { id: "no-jobs" }, "No jobs match.") :
    el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ["Name", "Job ID", "Status", "Array / nodes", "Created", "Started",
        "Stopped", "Exit code", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    nav);
}
