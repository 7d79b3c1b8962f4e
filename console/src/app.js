// barge's console: a page per hash route (#/queues, #/environments, #/jobs?..., #/job/ID,
// #/usage?..., #/signin), each drawn from the AWS API's answers.  When a page's data is in and drawn, the
// body gets data-page and data-ready (the milliseconds it took), which the tests and
// bench/console_pages.py wait for.
import { ApiError, credentials, signOut } from "./api.js";
import { el, errorBox } from "./dom.js";
import { queuesPage } from "./queues.js";
import { envsPage } from "./envs.js";
import { jobsPage } from "./jobs.js";
import { jobPage } from "./job.js";
import { usagePage } from "./usage.js";
import { signinPage } from "./signin.js";

const main = document.getElementById("main");
const who = document.getElementById("who");
let gen = 0;

function drawWho() {
  const c = credentials();
  who.replaceChildren(c ? el("span", {}, "Signed in as ", el("b", { id: "who-key" }, c.accessKeyId), " · ",
                             el("a", { href: "#/signin", id: "signout", onclick: () => signOut() }, "Sign out"))
                        : el("a", { href: "#/signin", id: "signin-link" }, "Sign in"));
}

// A job id from the address: percent-decoded (jobHref encodes a node's '#'), or as it is when it
// is not valid percent-encoding (typed or cut short by hand).
function decoded(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function route() {
  const g = ++gen;
  const ctx = { alive: () => g === gen,
                later: (fn, ms) => setTimeout(() => { if (g === gen) fn(); }, ms) };
  delete document.body.dataset.ready;
  const hash = location.hash.slice(1) || "/queues";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  const page = parts[0] || "queues";
  document.body.dataset.page = page;
  document.body.dataset.nav = g;
  for (const a of document.querySelectorAll("nav a[data-nav]"))
    a.classList.toggle("here", a.dataset.nav === page || (page === "job" && a.dataset.nav === "jobs"));
  drawWho();
  const t0 = performance.now();
  main.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  let view;
  try {
    if (page === "queues") view = await queuesPage();
    else if (page === "environments") view = await envsPage();
    else if (page === "jobs") view = await jobsPage(params);
    else if (page === "job") view = await jobPage(decoded(parts.slice(1).join("/")), ctx);
    else if (page === "usage") view = await usagePage(params, ctx);
    else if (page === "signin") view = signinPage(null, params.get("then"), go);
    else view = errorBox(`No page '${page}' in the console.`);
  } catch (e) {
    if (e instanceof ApiError && e.aboutCredentials)
      view = signinPage(e, location.hash, go);
    else
      view = el("section", {}, errorBox(e));
  }
  if (g !== gen) return;
  main.replaceChildren(view);
  document.body.dataset.ready = String(Math.round(performance.now() - t0));
}

// To the page of hash.  Setting location.hash to the address it already has changes nothing and
// fires no hashchange: then the page is drawn again here.
function go(hash) {
  const was = location.hash;
  location.hash = hash;
  if (location.hash === was) route();
}

window.addEventListener("hashchange", route);
window.addEventListener("barge-signed-in", drawWho);
route();
