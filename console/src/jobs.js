// The jobs of a queue, or the children of an array job (array=ID): ListJobs with its status,
// name and time filters, a page at a time.
//
// ListJobs takes either a status or filters, not both (a filter lists every status, as AWS's
// does), and one filter at a time.  With more chosen (a status and a name, a name and a time,
// both times), the console asks for pages filtered by one (the name, else a time) and keeps the
// jobs that match the rest, reading on until it has a page's worth or the listing ends.  "Any
// status" without a filter is the filter AFTER_CREATED_AT 0: every job, newest first.
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

// The time bounds the address names that are not times: said above the form, as a refusal is.
function badTimes(p) {
  const bad = [["Created after", p.after], ["Created before", p.before]]
    .filter(([, v]) => v && toMs(v) === null).map(([k, v]) => `${k}: '${v}' is not a date and time`);
  return bad.length ? `${bad.join("; ")} (give one as YYYY-MM-DDTHH:MM:SS).` : null;
}

async function fetchPage(p) {
  const after = toMs(p.after), before = toMs(p.before);
  // ListJobs applies one filter at a time, as AWS's does: the name if one is given, else a time
  // bound.  The status and any bound not sent are kept here, from filtered pages.
  let filter = null;
  const keep = [];
  if (p.name) filter = { name: "JOB_NAME", values: [p.name] };
  if (after !== null) {
    if (filter) keep.push((j) => j.createdAt > after);
    else filter = { name: "AFTER_CREATED_AT", values: [String(after)] };
  }
  if (before !== null) {
    if (filter) keep.push((j) => j.createdAt < before);
    else filter = { name: "BEFORE_CREATED_AT", values: [String(before)] };
  }
  if (!filter && !p.status) filter = { name: "AFTER_CREATED_AT", values: ["0"] };
  const input = { ...(p.array ? { arrayJobId: p.array } : { jobQueue: p.queue }), maxResults: PAGE };
  if (!filter) {
    input.jobStatus = p.status;
    const out = await batch("ListJobs", { ...input, ...(p.token ? { nextToken: p.token } : {}) });
    return { jobs: out.jobSummaryList || [], next: out.nextToken };
  }
  input.filters = [filter];
  if (p.status) keep.push((j) => j.status === p.status);
  if (!keep.length) {
    const out = await batch("ListJobs", { ...input, ...(p.token ? { nextToken: p.token } : {}) });
    return { jobs: out.jobSummaryList || [], next: out.nextToken };
  }
  // Filtered pages, the rest kept here.
  input.maxResults = 1000;
  let token = p.token, calls = 0;
  const jobs = [];
  do {
    const out = await batch("ListJobs", { ...input, ...(token ? { nextToken: token } : {}) });
    jobs.push(...(out.jobSummaryList || []).filter((j) => keep.every((k) => k(j))));
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
  const bad = badTimes(pageParams(params, named || ""));
  const early = !bad && (named || params.get("array")) ? fetchPage(pageParams(params, named || "")) : null;
  if (early) early.catch(() => {}); // awaited below; a refusal is reported from there
  const queues = await all(batch, "DescribeJobQueues", {}, "jobQueues");
  const p = pageParams(params, named || (queues[0] && queues[0].jobQueueName) || "");
  if (!p.queue && !p.array) return el("section", {}, el("h1", {}, "Jobs"), el("p", {}, "No job queues yet."));
  // A listing refused (a queue or an array job that does not exist, a stale token) is said above
  // the form, which stays to choose another: a queue, as an array that is not one has no children.
  let page, refused = bad;
  try {
    if (!bad) page = await (early || fetchPage(p));
  } catch (e) {
    if (e instanceof ApiError && e.aboutCredentials) throw e; // the sign-in form's to show
    refused = e;
  }
  const inArray = p.array && !refused;
  const form = el("form", { id: "job-filters", class: "filters",
    onsubmit: (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      location.hash = jobsHref({ queue: f.get("queue"), status: f.get("status"), name: String(f.get("name")).trim(),
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
    page.scanned ? el("p", { class: "small", id: "scanned" }, "ListJobs applies one filter at a time: ",
                      "the status, or the other creation time, is picked out of the filtered listing here, ",
                      "so a page may hold fewer or more jobs.") : null,
    rows.length === 0 ? el("p", { id: "no-jobs" }, "No jobs match.") :
    el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ["Name", "Job ID", "Status", "Array / nodes", "Created", "Started",
        "Stopped", "Exit code", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    nav);
}
