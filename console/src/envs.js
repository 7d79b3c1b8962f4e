// Compute environments with their vCPUs used and maximum, and their instances (ListInstances,
// barge's fleet operation).
import { all, batch, fleet } from "./api.js";
import { el, badge, fmtNum } from "./dom.js";

// A bar filled to pct: its width set through the CSSOM, which the console's Content-Security-
// Policy (no inline styles) allows.
function bar(pct) {
  const fill = el("div", { class: "fill" });
  fill.style.width = `${pct}%`;
  return el("div", { class: "bar" }, fill);
}

export async function envsPage() {
  const [envs, inst] = await Promise.all([
    all(batch, "DescribeComputeEnvironments", {}, "computeEnvironments"),
    fleet("ListInstances", {}),
  ]);
  const byCe = new Map();
  for (const i of inst.instances || []) {
    if (!byCe.has(i.computeEnvironment)) byCe.set(i.computeEnvironment, []);
    byCe.get(i.computeEnvironment).push(i);
  }
  const sections = envs.map((ce) => {
    const mine = byCe.get(ce.computeEnvironmentName) || [];
    const used = mine.reduce((s, i) => s + (i.vcpusUsed || 0), 0);
    const have = mine.reduce((s, i) => s + (i.vcpus || 0), 0);
    const cr = ce.computeResources || {};
    const max = cr.maxvCpus;
    const pct = max ? Math.min(100, (100 * used) / max) : 0;
    return el("section", { class: "ce", dataset: { ce: ce.computeEnvironmentName } },
      el("h2", {}, ce.computeEnvironmentName, " ", badge(ce.status)),
      el("p", {}, `${ce.type || ""} ${cr.type || ""} · ${ce.state}`,
         ce.statusReason ? ` · ${ce.statusReason}` : ""),
      el("div", { class: "vcpus" },
        el("span", { class: "used" }, `vCPUs used ${fmtNum(used)}`),
        el("span", {}, ` of ${max === undefined ? "?" : fmtNum(max)} maximum`),
        el("span", { class: "small" }, ` (${fmtNum(have)} on ${mine.length} instance${mine.length === 1 ? "" : "s"})`),
        bar(pct)),
      mine.length === 0 ? el("p", { class: "small" }, "No instances.") :
      el("table", { class: "instances" },
        el("thead", {}, el("tr", {}, ["Instance", "Type", "State", "vCPUs used", "Memory used (MiB)",
          "Jobs", "Heartbeat"].map((h) => el("th", {}, h)))),
        el("tbody", {}, mine.map((i) => el("tr", {},
          el("td", {}, i.instanceId), el("td", {}, i.instanceType),
          el("td", {}, badge(i.state)),
          el("td", { class: "num" }, `${fmtNum(i.vcpusUsed)} / ${fmtNum(i.vcpus)}`),
          el("td", { class: "num" }, `${fmtNum(i.memoryUsedMiB, 0)} / ${fmtNum(i.memoryMiB, 0)}`),
          el("td", { class: "num" }, (i.jobs || []).length),
          el("td", { class: "small" }, i.lastHeartbeatSecondsAgo === undefined ? "" :
             `${fmtNum(i.lastHeartbeatSecondsAgo)} s ago`))))));
  });
  return el("section", {}, el("h1", {}, "Compute environments"),
    envs.length === 0 ? el("p", {}, "No compute environments yet.") : sections);
}
