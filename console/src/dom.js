// Building the page: elements made from data, never from HTML text, so nothing a job's name or
// log holds can become markup.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, String(v));
  append(e, children);
  return e;
}

// A job's page.  A node's id (JOBID#N) holds a '#' and an array child's a ':': encoded, so that
// the whole id comes back from the address.
export const jobHref = (id) => `#/job/${encodeURIComponent(id)}`;

export function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
         `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtNum(n, digits = 1) {
  return Number(n || 0).toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function badge(status) {
  return el("span", { class: "status s-" + String(status || "").toLowerCase() }, status || "?");
}

export const STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                         "FAILED"];
export const DONE = new Set(["SUCCEEDED", "FAILED"]);

export function errorBox(e) {
  return el("div", { class: "error", role: "alert" }, String(e));
}
