// The jobs of a queue, or the children of an array job (array=ID): ListJobs with its status,
// name and time filters, a page at a time.
//
// ListJobs takes either a status or filters, not both (a filter lists every status, as AWS's
// does), and one filter at a time.  With more chosen (a status and a name, a name and a time,
// both times), the console asks for pages filtered by one (the name, else a time) and keeps the
// jobs that match the rest, reading on until it has a page's worth, the listing ends or SCAN
// jobs were looked at.  "Any status" without a filter is the filter AFTER_CREATED_AT 0: every
// job, newest first.
//
// The address keeps the pages before this one (back=), so that Previous goes to the page before
// within the console: a nextToken leads only forward.
import { all, batch, ApiError } from "./api.js";
import { el, badge, errorBox, fmtNum, fmtTime, jobHref, STATUSES } from "./dom.js";

const PAGE = 50;

export function jobsHref(p) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v) q.set(k, v);
  return "#/jobs?" + q.toString();
}

// A time as the form's datetime-local input holds it (YYYY-MM-DDTHH:MM, seconds optional), in
// local time.  Anything else the browser's Date would read ("2099", "Dec 7 2099", "1") is not
// taken: the input could not show it, so it would filter the list unseen.
const LOCAL_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/;

function daysIn(year, month) {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

function toMs(local) {
  const m = LOCAL_TIME.exec(local || "");
  if (!m) return null;
  const [y, mo, d, h, mi, s = 0] = m.slice(1).map(Number);
  // 2099-02-30 would roll over into March, where the input shows nothing.
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const t = new Date(2000, mo - 1, d, h, mi, s);
  t.setFullYear(y); // the constructor reads a year below 100 as 19YY
  return t.getTime();
}

// A date alone (2099-01-01) is its midnight, written as the input shows it.
function asLocalTime(v) {
  return /^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00` : v;
}

// The time bounds the address names that are not times: said above the form, as a refusal is.
function badTimes(p) {
  const bad = [["Created after", p.after], ["Created before", p.before]]
    .filter(([, v]) => v && toMs(v) === null).map(([k, v]) => `${k}: '${v}' is not a date and time`);
  return bad.length ? `${bad.join("; ")} (give one as YYYY-MM-DDTHH:MM:SS).` : null;
}

// ListJobs answers at most 100 jobs a call when it is given a filter (as AWS's does, whatever
// maxResults asks); a page picked out of filtered calls reads on through at most SCAN jobs, 50
// calls one after another, so that a page comes in a second or two from a server far away.
const FILTERED = 100;
const SCAN = 5000;

function listInput(p) {
  return { ...(p.array ? { arrayJobId: p.array } : { jobQueue: p.queue }), maxResults: PAGE };
}

async function onePage(input, token) {
  const out = await batch("ListJobs", { ...input, ...(token ? { nextToken: token } : {}) });
  return { jobs: out.jobSummaryList || [], next: out.nextToken };
}

// The one filter sent (the name, else BEFORE_CREATED_AT, else AFTER_CREATED_AT) and what is
// kept here of the filtered jobs.  With both times, "before" is sent and "after" kept: a queue's
// filtered listing is newest first, so it ends for this page at its first job created before
// "after" (`older`), where sent the other way round every newer job would be looked at first.
function plan(p) {
  const after = toMs(p.after), before = toMs(p.before);
  let filter = null;
  const keep = [];
  let older = null;
  if (p.name) filter = { name: "JOB_NAME", values: [p.name] };
  if (before !== null) {
    if (filter) keep.push((j) => j.createdAt < before);
    else filter = { name: "BEFORE_CREATED_AT", values: [String(before)] };
  }
  if (after !== null) {
    if (filter) {
      keep.push((j) => j.createdAt > after);
      older = (j) => j.createdAt <= after;
    } else {
      filter = { name: "AFTER_CREATED_AT", values: [String(after)] };
    }
  }
  if (p.status && filter) keep.push((j) => j.status === p.status);
  if (!filter && !p.status) filter = { name: "AFTER_CREATED_AT", values: ["0"] };
  // An array's children are listed by index, not newest first: no early end there.
  return { filter, keep, older: p.array ? null : older };
}

async function fetchPage(p) {
  const input = listInput(p);
  const { filter, keep, older } = plan(p);
  if (!filter) return onePage({ ...input, jobStatus: p.status }, p.token);
  input.filters = [filter];
  if (!keep.length) return onePage(input, p.token);
  // Filtered pages, the rest kept here, until a page's worth, the listing's end, a job older
  // than `after`, or SCAN jobs looked at.
  input.maxResults = FILTERED;
  let token = p.token, looked = 0;
  const jobs = [];
  do {
    const out = await onePage(input, token);
    token = out.next;
    for (const j of out.jobs) {
      if (older && older(j)) {
        token = undefined; // every job after it is older still
        break;
      }
      looked++;
      if (keep.every((k) => k(j))) jobs.push(j);
    }
  } while (token && jobs.length < PAGE && looked < SCAN);
  return { jobs, next: token, scanned: true, looked };
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

// What the address asks for, read as the form would send it: the name trimmed, a date alone
// as its midnight.
function pageParams(params, queue) {
  return { queue, status: params.get("status") || "", name: (params.get("name") || "").trim(),
           after: asLocalTime(params.get("after") || ""), before: asLocalTime(params.get("before") || ""),
           token: params.get("token") || "", back: params.get("back") || "", array: params.get("array") || "" };
}

// The pages before this one, as the tokens that list them: FIRST for the first page (which has
// none), the others as ListJobs gave them (hexadecimal: no '.').  A page opened from a link
// without them has no page before it that the console knows; without a token it is the first.
const FIRST = "-";

function pager(p, next) {
  const back = p.back ? p.back.split(".") : [];
  const prev = back.length ? { ...p, token: back[back.length - 1] === FIRST ? "" : back[back.length - 1],
                                back: back.slice(0, -1).join(".") } : null;
  return el("div", { class: "pager" },
    p.token ? el("a", { href: jobsHref({ ...p, token: "", back: "" }), id: "first-page" }, "« First page") : null,
    p.token ? (prev ? el("a", { href: jobsHref(prev), id: "prev-page" }, "‹ Previous")
                    : el("span", { class: "off", id: "prev-page", "aria-disabled": "true",
                                   title: "This page was opened from a link: the page before it is not known here" },
                         "‹ Previous")) : null,
    next ? el("a", { href: jobsHref({ ...p, token: next, back: [...back, p.token || FIRST].join(".") }),
                     id: "next-page" }, "Next page ›") : null);
}

// Nothing to list: none at all, or none among the jobs looked at so far (more may match on).
function nothing(page) {
  if (!page.next) return el("p", { id: "no-jobs" }, "No jobs match.");
  const so = page.looked !== undefined ? `None of the ${fmtNum(page.looked)} jobs looked at so far match` : "None here";
  return el("p", { id: "no-jobs" }, `${so}; the next page looks at the jobs after them.`);
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
  const nav = pager(p, page.next);
  return el("section", {},
    title,
    form,
    page.scanned ? el("p", { class: "small", id: "scanned" }, "ListJobs applies one filter at a time: ",
                      "the status, or the other creation time, is picked out of the filtered listing here, ",
                      `so a page may hold fewer or more jobs (this one looked at ${fmtNum(page.looked)}).`) : null,
    rows.length === 0 ? nothing(page) :
    el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ["Name", "Job ID", "Status", "Array / nodes", "Created", "Started",
        "Stopped", "Exit code", "Reason"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    nav);
}
