// The job's dependency graph, drawn: what it depends on (and its array parent) on the left, the
// job in the middle, the jobs that wait for it (and an array's children) on the right.
import { svg, jobHref } from "./dom.js";

const W = 230, H = 48, GAP = 80, ROW = 62;

function node(n, x, y) {
  const body = [
    svg("rect", { x, y, width: W, height: H, rx: 6, class: "node s-" + String(n.status || "").toLowerCase() }),
    svg("text", { x: x + 10, y: y + 19, class: "name" }, clip(n.title, 30)),
    svg("text", { x: x + 10, y: y + 37, class: "sub" }, clip(n.sub, 36)),
  ];
  const g = svg("g", { class: "gnode", "data-role": n.role, "data-job": n.id });
  if (n.id && n.role !== "self") {
    const a = svg("a", { href: jobHref(n.id) }, ...body);
    g.append(a);
  } else {
    g.append(...body);
  }
  return g;
}

function clip(s, n) {
  s = String(s || "");
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

function edge(x1, y1, x2, y2, label) {
  const mx = (x1 + x2) / 2;
  const parts = [svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`, class: "edge",
                               "marker-end": "url(#arrow)" })];
  if (label) parts.push(svg("text", { x: mx, y: (y1 + y2) / 2 - 4, class: "elabel", "text-anchor": "middle" }, label));
  return parts;
}

// left, right: [{id, title, sub, status, role, label}]; self: the job.
export function drawGraph(self, left, right) {
  const rows = Math.max(left.length, right.length, 1);
  const height = rows * ROW + 10;
  const x0 = 10, x1 = x0 + W + GAP, x2 = x1 + W + GAP;
  const ys = (n) => Array.from({ length: n }, (_, i) => 5 + (height - 10 - n * ROW) / 2 + i * ROW + (ROW - H) / 2);
  const cy = (height - H) / 2;
  const g = svg("svg", { viewBox: `0 0 ${x2 + W + 10} ${height}`, width: x2 + W + 10, height, id: "graph",
                         role: "img", "aria-label": "dependency graph" },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 4, refY: 5, markerWidth: 8,
                                    markerHeight: 8, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  ys(left.length).forEach((y, i) => {
    g.append(...edge(x0 + W, y + H / 2, x1, cy + H / 2, left[i].label));
    g.append(node(left[i], x0, y));
  });
  ys(right.length).forEach((y, i) => {
    g.append(...edge(x1 + W, cy + H / 2, x2, y + H / 2, right[i].label));
    g.append(node(right[i], x2, y));
  });
  g.append(node({ ...self, role: "self" }, x1, cy));
  return g;
}
