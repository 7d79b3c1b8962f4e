// One job: what it is and why, its attempts, its dependency graph, its usage, its log as it is
// written, and the buttons that cancel or terminate it.
import { batch, logs } from "./api.js";
import { el, badge, fmtTime, fmtNum, errorBox, DONE, STATUSES } from "./dom.js";
import { drawGraph } from "./graph.js";

async function describe(ids) {
  const out = [];
  for (let i = 0; i < ids.length; i += 100)
    out.push(...((await batch("DescribeJobs", { jobs: ids.slice(i, i + 100) })).jobs || []));
  return out;
}

function arrayParentId(j) {
  const p = j.arrayProperties;
  return p && p.index !== undefined && j.jobId.includes(":") ? j.jobId.slice(0, j.jobId.lastIndexOf(":")) : null;
}

function head(j) {
  const c = j.container || {};
  const row = (k, v) => (v === undefined || v === null || v === "" ? null : el("tr", {}, el("th", {}, k), el("td", {}, v)));
  return el("div", {},
    el("h1", {}, j.jobName, " ", badge(j.status)),
    j.statusReason ? el("p", { class: "reason", id: "status-reason" }, j.statusReason) : null,
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
      row("Cancelled / terminated", j.isCancelled || j.isTerminated ?
          `${j.isCancelled ? "cancelled" : ""}${j.isTerminated ? " terminated" : ""}` : null))));
}

function attempts(j) {
  const list = j.attempts || [];
  const ran = (j.barge || {}).attempts || [];
  if (!list.length) return el("p", { class: "small" }, "No attempt has ended yet.");
  return el("table", { id: "attempts" },
    el("thead", {}, el("tr", {}, ["#", "Started", "Stopped", "Exit code", "Reason", "Instance", "Log stream"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((a, i) => {
      const c = a.container || {};
      return el("tr", {},
        el("td", { class: "num" }, i + 1), el("td", { class: "small" }, fmtTime(a.startedAt)),
        el("td", { class: "small" }, fmtTime(a.stoppedAt)),
        el("td", { class: "num exit" }, c.exitCode !== undefined ? c.exitCode : ""),
        el("td", { class: "small" }, [a.statusReason, c.reason].filter(Boolean).join(" · ")),
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

async function graph(j) {
  const deps = (j.dependsOn || []).map((d) => ({ id: d.jobId, label: d.type || "" }));
  const dependents = ((j.barge || {}).dependents || []).map((id) => ({ id }));
  const parent = arrayParentId(j);
  const ids = [...deps.map((d) => d.id), ...dependents.map((d) => d.id), ...(parent ? [parent] : [])];
  const known = new Map((ids.length ? await describe([...new Set(ids)]) : []).map((x) => [x.jobId, x]));
  const info = (d, role) => {
    const x = known.get(d.id);
    return { id: d.id, role, label: d.label, status: x ? x.status : "",
             title: x ? x.jobName : d.id, sub: x ? `${x.status} · ${d.id.slice(0, 8)}` : "unknown job" };
  };
  const left = deps.map((d) => info(d, "dependency"));
  if (parent) left.push({ ...info({ id: parent, label: "array" }, "parent") });
  const right = dependents.map((d) => info(d, "dependent"));
  const ap = j.arrayProperties;
  if (ap && ap.statusSummary) {
    const s = ap.statusSummary;
    const busiest = STATUSES.filter((k) => s[k]).map((k) => `${k} ${s[k]}`);
    right.push({ role: "children", title: `${ap.size} children`, sub: busiest.join(" · "),
                 status: s.FAILED ? "FAILED" : s.SUCCEEDED === ap.size ? "SUCCEEDED" : "RUNNING",
                 label: "array" });
  }
  const self = { id: j.jobId, title: j.jobName, sub: `${j.status} · ${j.jobId.slice(0, 8)}`, status: j.status };
  return el("div", {},
    drawGraph(self, left, right),
    ap && ap.statusSummary ? el("p", { class: "small", id: "children" }, "Children: ",
      STATUSES.map((k) => `${k} ${ap.statusSummary[k] || 0}`).join(", "), " · ",
      el("a", { href: `#/jobs?array=${encodeURIComponent(j.jobId)}`, id: "children-link" }, "list them")) : null);
}

export async function jobPage(id, ctx) {
  let [j] = await describe([id]);
  if (!j) return el("section", {}, el("h1", {}, "Job"), errorBox(`No job with id '${id}'.`));
  const parts = { head: el("div", { id: "job-head" }), graph: el("div", { id: "job-graph" }),
                  attempts: el("div", { id: "job-attempts" }), usage: el("div", { id: "job-usage" }) };
  const msg = el("div", { id: "action-result", role: "status" });
  const reason = el("input", { id: "reason", value: "stopped from the console", size: 40 });
  const act = (op) => async () => {
    msg.replaceChildren();
    try {
      await batch(op, { jobId: j.jobId, reason: reason.value || "stopped from the console" });
      msg.replaceChildren(el("span", { class: "ok" }, `${op} sent.`));
      await refresh();
    } catch (e) {
      msg.replaceChildren(errorBox(e));
    }
  };
  const logPre = el("pre", { id: "log", dataset: { lines: 0 } });
  logPre.hidden = true; // until there is a stream to show
  const logNote = el("p", { class: "small", id: "log-note" });
  const render = async () => {
    parts.head.replaceChildren(head(j));
    parts.attempts.replaceChildren(attempts(j));
    parts.usage.replaceChildren(usage(j));
    parts.graph.replaceChildren(await graph(j));
  };
  const refresh = async () => {
    const [n] = await describe([id]);
    if (n) j = n;
    await render();
  };
  await render();

  // The log: GetLogEvents from the start of the job's stream, then on from nextForwardToken
  // while the job runs.  The stream is the latest attempt's; a new attempt starts the view anew.
  let stream = null, token = null;
  const group = () => (((j.container || {}).logConfiguration || {}).options || {})["awslogs-group"] || "/aws/batch/job";
  const readLog = async () => {
    const s = (j.container || {}).logStreamName;
    if (!s) {
      logNote.textContent = j.arrayProperties && j.arrayProperties.statusSummary
        ? "An array job has no log of its own: its children have theirs."
        : DONE.has(j.status) ? "No log: the job never ran." : "No log yet: the job has not started.";
      return;
    }
    logPre.hidden = false;
    if (s !== stream) {
      stream = s;
      token = null;
      logPre.replaceChildren();
      logPre.dataset.lines = 0;
    }
    logNote.textContent = `${group()} · ${s}` + (DONE.has(j.status) ? "" : " · following");
    for (let i = 0; i < 50 && ctx.alive(); i++) {
      const out = await logs("GetLogEvents", { logGroupName: group(), logStreamName: s, startFromHead: true,
                                               ...(token ? { nextToken: token } : {}) });
      const evs = out.events || [];
      if (evs.length) {
        const stick = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
        logPre.append(evs.map((e) => e.message.replace(/\n$/, "") + "\n").join(""));
        logPre.dataset.lines = Number(logPre.dataset.lines) + evs.length;
        if (stick) logPre.scrollTop = logPre.scrollHeight;
      }
      const next = out.nextForwardToken;
      if (!evs.length || !next || next === token) {
        token = next || token;
        break;
      }
      token = next;
    }
  };
  try {
    await readLog();
  } catch (e) {
    logNote.replaceChildren(errorBox(e));
  }
  // While the job is not done: its description every 2 s, its log every second.
  let ticks = 0, ended = DONE.has(j.status);
  const follow = async () => {
    if (ended) return;
    try {
      if (ticks++ % 2 === 0) {
        await refresh();
        ended = DONE.has(j.status);
      }
      await readLog(); // once more after the end: the last lines
    } catch (e) {
      logNote.replaceChildren(errorBox(e));
    }
    if (!ended) ctx.later(follow, 1000);
    else logNote.textContent = `${group()} · ${stream || ""}`;
  };
  ctx.later(follow, 1000);

  return el("section", { class: "job" },
    parts.head,
    el("div", { class: "actions" }, el("label", {}, "Reason ", reason), " ",
       el("button", { id: "cancel", onclick: act("CancelJob"), title: "Cancel a job that has not started" }, "Cancel"), " ",
       el("button", { id: "terminate", class: "danger", onclick: act("TerminateJob"),
                      title: "Terminate the job, stopping it if it runs" }, "Terminate"), msg),
    el("h2", {}, "Dependencies"), parts.graph,
    el("h2", {}, "Attempts"), parts.attempts,
    el("h2", {}, "Usage"), parts.usage,
    el("h2", {}, "Log"), logNote, logPre);
}
