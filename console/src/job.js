// One job: what it is and why, what it was submitted with, its attempts, its dependency graph,
// its usage, its log as it is written, and the buttons that cancel or terminate it.
import { all, batch, logs, Unreachable } from "./api.js";
import { el, badge, fmtTime, fmtNum, errorBox, jobHref, DONE, STATUSES } from "./dom.js";
import { drawGraph } from "./graph.js";
import { logView } from "./logview.js";
import { submitted } from "./submitted.js";

async function describe(ids) {
  ids = ids.filter(Boolean);
  const out = [];
  for (let i = 0; i < ids.length; i += 100)
    out.push(...((await batch("DescribeJobs", { jobs: ids.slice(i, i + 100) })).jobs || []));
  return out;
}

// The multi-node job a node (JOBID#N, with nodeDetails) belongs to.
function nodeParentId(j) {
  return j.nodeDetails && j.jobId.includes("#") ? j.jobId.slice(0, j.jobId.lastIndexOf("#")) : null;
}

const isMultiNode = (j) => !!j.nodeProperties && !j.nodeDetails;

function arrayParentId(j) {
  const p = j.arrayProperties;
  return p && p.index !== undefined && j.jobId.includes(":") ? j.jobId.slice(0, j.jobId.lastIndexOf(":")) : null;
}

// An id short enough for a graph node: the first 8 characters, and an array child's index or a
// node's number (":2", "#1"), without which a child's node reads as its parent's.
function shortId(id) {
  const m = /[:#]\d+$/.exec(id);
  return id.slice(0, 8) + (m ? m[0] : "");
}

// A job's name as a graph node shows it: an array child's with its index.
function nodeTitle(x) {
  const a = x.arrayProperties;
  return a && a.index !== undefined && a.size === undefined ? `${x.jobName} · child ${a.index}` : x.jobName;
}

// What a job depends on, as ids to draw.  A dependency may name no job: an array's SEQUENTIAL
// (each child waits for the one before it: for a child, its previous sibling) and, for a child,
// N_TO_N names the other array, whose child of the same index it waits for (`whole` keeps the
// job named: when that is not an array, the child waits for all of it; see graph).
function dependencies(j) {
  const p = j.arrayProperties, parent = arrayParentId(j);
  const index = p && p.index !== undefined ? p.index : null;
  const out = [];
  for (const d of j.dependsOn || []) {
    if (d.jobId) {
      const child = index !== null && d.type === "N_TO_N" && !/:\d+$/.test(d.jobId);
      out.push({ id: child ? `${d.jobId}:${index}` : d.jobId, label: d.type || "",
                 whole: child ? d.jobId : undefined });
    } else if (d.type === "SEQUENTIAL" && parent && index > 0) {
      out.push({ id: `${parent}:${index - 1}`, label: "SEQUENTIAL" });
    }
  }
  return out;
}

function head(j) {
  const c = j.container || {};
  const row = (k, v) => (v === undefined || v === null || v === "" ? null : el("tr", {}, el("th", {}, k), el("td", {}, v)));
  return el("div", {},
    el("h1", {}, j.jobName, " ", badge(j.status)),
    j.statusReason ? el("p", { class: "reason", id: "status-reason" }, j.statusReason) : null,
    // STARTING while its agent pulls the image (a hung registry looked like a slow start).
    (j.barge || {}).pulling ? el("p", { class: "reason", id: "pulling" },
      `Pulling its image ${j.barge.pulling.image} since ${fmtTime(j.barge.pulling.since)}`) : null,
    // RUNNING on while the server refuses its output for room (a TerminateJob's end waits too).
    (j.barge || {}).outputWaiting ? el("p", { class: "reason", id: "output-waiting" },
      `Since ${fmtTime(j.barge.outputWaiting.since)}, ${j.barge.outputWaiting.reason}`) : null,
    el("table", { class: "facts" }, el("tbody", {},
      row("Job ID", el("span", { class: "mono", id: "job-id" }, j.jobId)),
      row("Queue", j.jobQueue ? el("a", { href: `#/jobs?queue=${encodeURIComponent(j.jobQueue.split("/").pop())}` },
                                   j.jobQueue.split("/").pop()) : ""),
      row("Definition", (j.jobDefinition || "").split("/").pop()),
      row("Created", fmtTime(j.createdAt)), row("Started", fmtTime(j.startedAt)),
      row("Stopped", fmtTime(j.stoppedAt)),
      row("Exit code", c.exitCode !== undefined ? el("span", { id: "exit-code" }, c.exitCode) : null),
      row("Container reason", c.reason),
      row("Command", c.command ? el("span", { class: "mono" }, c.command.join(" ")) : null),
      row("Runs on", (j.barge || {}).instanceId),
      j.nodeDetails ? row("Node", el("span", { id: "node-of" }, `node ${j.nodeDetails.nodeIndex}`,
        j.nodeDetails.isMainNode ? " (the main node)" : "", " of multi-node job ",
        el("a", { href: jobHref(nodeParentId(j)), class: "mono", id: "node-parent" }, nodeParentId(j)))) : null,
      arrayParentId(j) ? row("Array child", el("span", { id: "child-of" }, `child ${j.arrayProperties.index} of array job `,
        el("a", { href: jobHref(arrayParentId(j)), class: "mono", id: "child-parent" }, arrayParentId(j)))) : null,
      isMultiNode(j) ? row("Nodes", `${j.nodeProperties.numNodes}, main node ${j.nodeProperties.mainNode}`) : null,
      row("Cancelled / terminated", j.isCancelled || j.isTerminated ?
          [j.isCancelled ? "cancelled" : "", j.isTerminated ? "terminated" : ""].filter(Boolean).join(", ") : null))));
}

function attempts(j) {
  const list = j.attempts || [];
  const ran = (j.barge || {}).attempts || [];
  if (!list.length) {
    const a = j.arrayProperties;
    return el("p", { class: "small", id: "no-attempts" },
      a && a.size !== undefined ? "An array job's attempts are its children's." :
      DONE.has(j.status) ? "None: the job ended without running." : "No attempt has ended yet.");
  }
  return el("table", { id: "attempts" },
    el("thead", {}, el("tr", {}, ["#", "Started", "Stopped", "Exit code", "Reason", "Instance", "Log stream"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((a, i) => {
      const c = a.container || {};
      return el("tr", {},
        el("td", { class: "num" }, i + 1), el("td", { class: "small" }, fmtTime(a.startedAt)),
        el("td", { class: "small" }, fmtTime(a.stoppedAt)),
        el("td", { class: "num exit" }, c.exitCode !== undefined ? c.exitCode : ""),
        el("td", { class: "small text" }, [a.statusReason, c.reason].filter(Boolean).join(" · ")),
        el("td", { class: "small" }, (ran[i] || {}).instanceId || ""),
        el("td", { class: "small mono" }, c.logStreamName || ""));
    })));
}

function usage(j) {
  const u = (j.barge || {}).usage;
  if (!u) return el("p", { class: "small" }, "No usage recorded.");
  const row = (k, v) => el("tr", {}, el("th", {}, k), el("td", { class: "num" }, v));
  return el("table", { id: "usage", class: "facts" }, el("tbody", {},
    row("vCPU-seconds reserved", fmtNum(u.vcpuSeconds, 2)),
    row("Memory GiB-seconds reserved", fmtNum(u.memoryGiBSeconds, 3)),
    u.cpuSeconds !== undefined ? row("CPU seconds used", fmtNum(u.cpuSeconds, 3)) : null,
    u.maxMemoryBytes !== undefined ? row("Peak memory", `${fmtNum(u.maxMemoryBytes / 1048576, 1)} MiB`) : null));
}

// A multi-node job's nodes (ListJobs multiNodeJobId, every status), by index.
async function listNodes(j) {
  const nodes = await all(batch, "ListJobs", { multiNodeJobId: j.jobId, maxResults: 1000,
    filters: [{ name: "AFTER_CREATED_AT", values: ["0"] }] }, "jobSummaryList", 100000);
  const index = (n) => ((n.nodeProperties || {}).nodeIndex ?? Number(n.jobId.split("#").pop()));
  return nodes.sort((a, b) => index(a) - index(b)).map((n) => ({ ...n, index: index(n) }));
}

function nodesTable(nodes) {
  if (!nodes.length) return el("p", { class: "small" }, "No node is listed yet.");
  return el("table", { id: "nodes" },
    el("thead", {}, el("tr", {}, ["Node", "Job ID", "Status", "Started", "Stopped", "Exit code", "Reason"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, nodes.map((n) => el("tr", { dataset: { job: n.jobId } },
      el("td", {}, el("a", { href: jobHref(n.jobId) }, `node ${n.index}`),
         (n.nodeProperties || {}).isMainNode ? el("span", { class: "small" }, " main") : null),
      el("td", { class: "mono small" }, n.jobId),
      el("td", {}, badge(n.status)),
      el("td", { class: "small" }, fmtTime(n.startedAt)),
      el("td", { class: "small" }, fmtTime(n.stoppedAt)),
      el("td", { class: "num" }, n.container && n.container.exitCode !== undefined ? n.container.exitCode : ""),
      el("td", { class: "small text" }, n.statusReason || "")))));
}

// At most this many jobs drawn on a side of the graph; the rest are one "N more" node, and every
// one of them is listed under the graph.  A job may have thousands of dependents: a graph of them
// all would be pages tall, with the job itself lost in its middle.
const DRAWN = 12;

function capped(list, what, total = list.length) {
  if (list.length <= DRAWN) return list;
  return [...list.slice(0, DRAWN - 1), { role: "more", title: `${total - (DRAWN - 1)} more ${what}`,
                                         sub: "all listed below the graph", status: "" }];
}

function jobList(id, summary, items, more) {
  return el("details", { class: "graph-list", id },
    el("summary", {}, summary),
    el("ul", {}, items.map((x) => el("li", { dataset: { job: x.id } }, el("a", { href: jobHref(x.id) }, x.title),
      " ", el("span", { class: "small" }, x.sub, x.label ? ` · ${x.label}` : "")))),
    more ? el("p", { class: "small" }, more) : null);
}

async function graph(j, nodes) {
  let deps = dependencies(j);
  const b = j.barge || {};
  const dependents = (b.dependents || []).map((id) => ({ id }));
  const parent = arrayParentId(j), mnParent = nodeParentId(j);
  const ids = [...deps.flatMap((d) => (d.whole ? [d.id, d.whole] : [d.id])), ...dependents.map((d) => d.id),
               ...(parent ? [parent] : []), ...(mnParent ? [mnParent] : [])];
  const known = new Map((ids.length ? await describe([...new Set(ids)]) : []).map((x) => [x.jobId, x]));
  // N_TO_N on a job that is not an array is a dependency on the whole job, as the server has it.
  deps = deps.map((d) => {
    const w = d.whole && known.get(d.whole);
    return w && !(w.arrayProperties && w.arrayProperties.size !== undefined) ? { id: d.whole, label: d.label } : d;
  });
  const info = (d, role) => {
    const x = known.get(d.id);
    return { id: d.id, role, label: d.label, status: x ? x.status : "",
             title: x ? nodeTitle(x) : d.id, sub: x ? `${x.status} · ${shortId(d.id)}` : "unknown job" };
  };
  const left = deps.map((d) => info(d, "dependency"));
  if (parent) left.push({ ...info({ id: parent, label: "array" }, "parent") });
  if (mnParent) left.push({ ...info({ id: mnParent, label: `node ${j.nodeDetails.nodeIndex}` }, "parent") });
  const right = dependents.map((d) => info(d, "dependent"));
  const ap = j.arrayProperties;
  if (ap && ap.size !== undefined) { // a child has an empty statusSummary and no size
    const s = ap.statusSummary || {};
    const busiest = STATUSES.filter((k) => s[k]).map((k) => `${k} ${s[k]}`);
    right.push({ role: "children", title: `${ap.size} children`, sub: busiest.join(" · "),
                 status: s.FAILED ? "FAILED" : s.SUCCEEDED === ap.size ? "SUCCEEDED" : "RUNNING",
                 label: "array" });
  }
  for (const n of nodes || [])
    right.push({ id: n.jobId, role: "node", status: n.status, label: (n.nodeProperties || {}).isMainNode ? "main" : "",
                 title: `node ${n.index}`, sub: `${n.status} · ${j.jobName}` });
  const self = { id: j.jobId, title: j.nodeDetails ? `${j.jobName} · node ${j.nodeDetails.nodeIndex}` : nodeTitle(j),
                 sub: `${j.status} · ${shortId(j.jobId)}`, status: j.status };
  const unlisted = (b.dependentCount || 0) - dependents.length;
  return el("div", {},
    drawGraph(self, capped(left, "dependencies"), capped(right, "jobs", right.length + Math.max(unlisted, 0))),
    left.length > DRAWN ? jobList("all-dependencies", `All ${left.length} dependencies`, left) : null,
    right.length > DRAWN ? jobList("all-dependents", "All " + [
        dependents.length ? `${b.dependentCount || dependents.length} jobs that wait for it` : null,
        nodes && nodes.length ? `${nodes.length} nodes` : null].filter(Boolean).join(" and "),
      right.filter((x) => x.id),
      unlisted > 0 ? `The server lists the first ${dependents.length} of the ${b.dependentCount} jobs that wait for this one.` : null) :
    unlisted > 0 ? el("p", { class: "small" }, `${b.dependentCount} jobs wait for this one; the first ${dependents.length} are drawn.`) : null,
    ap && ap.size !== undefined ? el("p", { class: "small", id: "children" }, "Children: ",
      STATUSES.map((k) => `${k} ${(ap.statusSummary || {})[k] || 0}`).join(", "),
      (j.dependsOn || []).some((d) => !d.jobId && d.type === "SEQUENTIAL") ? " (SEQUENTIAL: each child waits for the one before it)" : "",
      " · ",
      el("a", { href: `#/jobs?array=${encodeURIComponent(j.jobId)}`, id: "children-link" }, "list them")) : null);
}

// The graph drawn anew (every 2 s while the job runs) with its lists opened or folded as the
// reader left them in the one it replaces.
function keepOpen(shown, fresh) {
  const open = new Set([...shown.querySelectorAll("details[open]")].map((d) => d.id));
  for (const d of fresh.querySelectorAll("details")) d.open = open.has(d.id);
  return fresh;
}

const STARTED = new Set(["STARTING", "RUNNING"]);
const GONE_LOG = "The job and its log are gone from the server: no more lines will come.";

// While the page follows the job, a server that does not answer (restarting, say) is tried again
// every second, and the page says so.
function unreachable(e) {
  return e instanceof Unreachable ? `${e} Trying again every second.` : e;
}

// What an action did, from the description read after it: AWS answers CancelJob and TerminateJob
// with success even when they change nothing (CancelJob of a job that has started, either of a
// job that has ended), so "sent" alone would say nothing true.
function outcome(op, was, j) {
  if (!j) return `${op} sent; the job is no longer known to the server.`;
  if (DONE.has(was)) return `${op} changed nothing: the job had already ended ${was}.`;
  if (DONE.has(j.status)) return `${op} sent: the job is ${j.status}.`;
  if (op === "TerminateJob" && j.isTerminated)
    return `${op} sent: the job is ${STARTED.has(j.status) ? "being stopped" : "marked terminated"}.`;
  if (op === "CancelJob" && j.isCancelled) return `${op} sent: the job is marked cancelled; it fails when it would have started.`;
  if (op === "CancelJob" && STARTED.has(j.status))
    return `${op} changed nothing: the job is ${j.status}, and CancelJob leaves a job that has started ` +
           "running (as AWS does). Terminate stops it.";
  return `${op} sent: the job is ${j.status}.`;
}

export async function jobPage(id, ctx) {
  let [j] = await describe([id]);
  if (!j) return el("section", {}, el("h1", {}, "Job"), errorBox(`No job with id '${id}': it never existed, ` +
    "or it ended and was removed after the server's --retention-hours."));
  let gone = false; // removed by the server (its retention) while this page was open
  let nodes = isMultiNode(j) ? await listNodes(j) : null;
  const parts = { head: el("div", { id: "job-head" }), inputs: el("div"), graph: el("div", { id: "job-graph" }),
                  nodes: el("div", { id: "job-nodes" }),
                  attempts: el("div", { id: "job-attempts" }), usage: el("div", { id: "job-usage" }) };
  const msg = el("div", { id: "action-result", role: "status" });
  const reason = el("input", { id: "reason", value: "stopped from the console", size: 40 });
  const act = (op) => async () => {
    msg.replaceChildren();
    const was = j.status;
    try {
      await batch(op, { jobId: j.jobId, reason: reason.value || "stopped from the console" });
    } catch (e) {
      msg.replaceChildren(errorBox(e));
      return;
    }
    msg.replaceChildren(el("span", { class: "ok" }, `${op} sent.`));
    try {
      await refresh();
      msg.replaceChildren(el("span", { class: "ok" }, outcome(op, was, gone ? null : j)));
    } catch (e) {
      msg.replaceChildren(el("span", { class: "ok" }, `${op} sent.`), errorBox(e));
    }
  };
  const cancelBtn = el("button", { id: "cancel", onclick: act("CancelJob") }, "Cancel");
  const terminateBtn = el("button", { id: "terminate", class: "danger", onclick: act("TerminateJob") }, "Terminate");
  const actionNote = el("span", { class: "small", id: "action-note" });
  const log = logView(j.jobId);
  const logNote = el("p", { class: "small", id: "log-note" });
  // The buttons say what they would do to the job as it is now.
  const buttons = () => {
    const ended = gone || DONE.has(j.status), started = STARTED.has(j.status);
    cancelBtn.disabled = ended || started;
    terminateBtn.disabled = ended;
    cancelBtn.title = ended ? "The job has ended" : started
      ? "The job has started: CancelJob would leave it running (as on AWS); Terminate stops it"
      : "Cancel a job that has not started";
    terminateBtn.title = ended ? "The job has ended" : "Terminate the job, stopping it if it runs";
    actionNote.textContent = gone ? "" : ended ? "The job has ended: there is nothing to cancel or terminate."
      : started ? "The job has started: Terminate stops it (Cancel acts only on a job that has not started)." : "";
  };
  const render = async () => {
    if (gone) {
      parts.head.replaceChildren(head(j), errorBox(`The job is no longer known to the server: it was removed ` +
        "(after the server's --retention-hours) while this page was open. What is shown is as it was last read."));
      parts.head.querySelector(".error").id = "job-gone";
      logNote.textContent = GONE_LOG;
    } else {
      parts.head.replaceChildren(head(j));
    }
    buttons();
    const shown = parts.inputs.firstChild;
    const inputs = submitted(j, shown);
    if (inputs !== shown) parts.inputs.replaceChildren(inputs);
    parts.attempts.replaceChildren(attempts(j));
    parts.usage.replaceChildren(usage(j));
    if (nodes) parts.nodes.replaceChildren(nodesTable(nodes));
    parts.graph.replaceChildren(keepOpen(parts.graph, await graph(j, nodes)));
  };
  const refresh = async () => {
    const [n] = await describe([id]);
    if (n) j = n;
    else gone = true;
    if (n && nodes) nodes = await listNodes(j);
    await render();
  };
  await render();

  // The log: GetLogEvents from the start of the job's stream, then on from nextForwardToken
  // while the job runs.  The stream is the latest attempt's; a new attempt starts the view anew.
  // `caughtUp` says the last read reached the stream's end (nextForwardToken stopped changing).
  let stream = null, token = null, caughtUp = false;
  const group = () => (((j.container || {}).logConfiguration || {}).options || {})["awslogs-group"] || "/aws/batch/job";
  // At most PAGES answers a call, so that a long log is read a part at a time, the page drawn
  // (and answering) between parts.
  const PAGES = 50;
  const readLog = async () => {
    const s = (j.container || {}).logStreamName;
    if (!s) {
      logNote.textContent = j.arrayProperties && j.arrayProperties.size !== undefined
        ? "An array job has no log of its own: its children have theirs."
        : isMultiNode(j) ? "A multi-node job has no log of its own: each of its nodes has one (Nodes, above)."
        : DONE.has(j.status) ? "No log: the job never ran." : "No log yet: the job has not started.";
      caughtUp = true;
      return;
    }
    log.pre.hidden = false;
    if (s !== stream) {
      stream = s;
      token = null;
      log.reset(group(), s);
    }
    caughtUp = false;
    for (let i = 0; i < PAGES && !caughtUp && ctx.alive(); i++) {
      const out = await logs("GetLogEvents", { logGroupName: group(), logStreamName: s, startFromHead: true,
                                               ...(token ? { nextToken: token } : {}) });
      log.add((out.events || []).map((e) => e.message));
      const next = out.nextForwardToken;
      caughtUp = !next || next === token;
      token = next || token;
    }
    logNote.textContent = `${group()} · ${s}` + (!caughtUp ? ` · reading, ${fmtNum(Number(log.pre.dataset.lines))} lines so far`
      : DONE.has(j.status) ? "" : " · following");
  };
  try {
    await readLog();
  } catch (e) {
    logNote.replaceChildren(errorBox(unreachable(e)));
  }
  // While the job is not done: its description every 2 s, its log every second.  Once it is
  // done, its log to the end: at once while there is more (every line counts, however many), and
  // again a second after the server did not answer.
  let ended = DONE.has(j.status), described = 0;
  const follow = async () => {
    if (gone || (ended && caughtUp)) return; // gone: render() said so
    let failed = false;
    try {
      if (!ended && Date.now() - described >= 2000) {
        described = Date.now();
        await refresh();
        ended = gone || DONE.has(j.status);
      }
      if (!gone) await readLog(); // once more after the end: the last lines
    } catch (e) {
      failed = true;
      logNote.replaceChildren(errorBox(unreachable(e)));
      // A refusal of an ended job's log would come again: it stays said.  A server that does
      // not answer may come back.
      if (ended && !(e instanceof Unreachable)) caughtUp = true;
    }
    if (gone) {
      logNote.textContent = GONE_LOG;
      return;
    }
    if (!ended || !caughtUp) ctx.later(follow, caughtUp || failed ? 1000 : 0);
  };
  ctx.later(follow, caughtUp ? 1000 : 0);

  return el("section", { class: "job" },
    parts.head,
    el("div", { class: "actions" }, el("label", {}, "Reason ", reason), " ", cancelBtn, " ", terminateBtn, " ",
       actionNote, msg),
    el("h2", {}, "Submitted with"), parts.inputs,
    nodes ? [el("h2", {}, "Nodes"), parts.nodes] : null,
    el("h2", {}, "Dependencies"), parts.graph,
    el("h2", {}, "Attempts"), parts.attempts,
    el("h2", {}, "Usage"), parts.usage,
    el("h2", {}, "Log"), logNote, log.note, log.pre);
}
