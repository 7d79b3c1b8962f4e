// Drives barge's console in headless Chromium as a hostile party would, for
// tests/e2e/test_console_hostile.py.  Prints what it saw as one line of JSON.
// usage: node console_hostile.mjs SCENARIO 'JSON INPUT'
// Reads BARGE_URL, BARGE_JS_DIR and CHROMIUM, as console_probe.mjs does.
//
// Scenarios:
//   text       every address in input.hashes opened afresh: markup that came from the API or the
//              address must stay text (no element made of it, no Content-Security-Policy refusal,
//              no link leaving the console)
//   crosssite  a page of another site (http://attacker.test:PORT, served here) that sends the API a
//              SubmitJob as a no-cors fetch and as a text/plain form, tries a CORS read and frames
//              the console: what reached the server is for the test to find out
//   rebind     the server's own port reached under another host name (what DNS rebinding gives a
//              web page): whether the API answers that page
//   secret     signing in to a --credentials server: where the secret goes (only into
//              sessionStorage: never into a request, an address, a cookie or localStorage)
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";

const require = createRequire(path.join(process.env.BARGE_JS_DIR, "package.json"));
const { chromium } = require("playwright-core");

const [scenario, inputText] = process.argv.slice(2);
const input = JSON.parse(inputText || "{}");
const base = process.env.BARGE_URL;
const seen = { scenario, console_errors: [], dialogs: [] };
// The other site's name, resolved to this machine by the browser alone.
const ATTACKER = "attacker.test";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
         `--host-resolver-rules=MAP ${ATTACKER} 127.0.0.1`],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
// Content-Security-Policy refusals are how markup that became elements shows itself even when
// the policy kept its script from running.
await context.addInitScript(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.__csp.push(`${e.violatedDirective}: ${e.blockedURI || ""} ${e.sample || ""}`.trim()));
});
const page = await context.newPage();
page.on("console", (m) => { if (m.type() === "error") seen.console_errors.push(m.text()); });
page.on("pageerror", (e) => seen.console_errors.push(String(e)));
page.on("dialog", (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });

let step = "start";

// Each address opened in a fresh document (a bookmark, a link followed): a change of the hash
// alone would keep the previous page's state and let its data-ready be taken for this one's.
async function open(url) {
  await page.goto("about:blank");
  await page.goto(url);
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
}

// What markup could have become on the page: elements the console never makes itself, links
// that leave it, scripts run, refusals of the policy.
const inspect = () => page.evaluate(() => ({
  pwned: window.__pwned ?? null,
  title: document.title,
  injected: [...document.querySelectorAll(
    "#main img, #main script, #main iframe, #main object, #main embed, #main b, #main svg:not(#graph), " +
    "#main foreignObject, #main [onerror], #main [onload], #main [style]")]
    .filter((e) => !e.matches(".bar .fill")) // the vCPU bar's width, set through the CSSOM
    .map((e) => e.outerHTML.slice(0, 120)),
  foreign_links: [...document.querySelectorAll("[href]")].map((a) => a.getAttribute("href"))
    .filter((h) => !h.startsWith("#") && !/^app-[A-Z0-9]+\.css$/.test(h) && h !== "data:,"),
  csp: window.__csp.slice(),
  text: document.querySelector("#main").textContent,
}));

async function text() {
  seen.pages = {};
  for (const [k, hash] of Object.entries(input.hashes)) {
    step = `the address ${k}`;
    await open(`${base}/console/${hash}`);
    // An image's error, an SVG's load: their handlers run after the page is drawn.
    await page.waitForTimeout(300);
    seen.pages[k] = await inspect();
  }
  step = "signing in with an address to go to next that is a javascript: URL";
  await open(`${base}/console/#/signin?then=${encodeURIComponent("javascript:window.__pwned='then'")}`);
  await page.fill('#signin input[name="accessKeyId"]', "any");
  await page.fill('#signin input[name="secretAccessKey"]', "any");
  await page.click('#signin button[type="submit"]');
  await page.waitForFunction(() => !location.hash.startsWith("#/signin"), null, { timeout: 10000 });
  await page.waitForTimeout(300);
  seen.then = { ...(await inspect()), url: page.url() };
}

// The other site's page: a SubmitJob as a fetch that needs no preflight (no-cors, text/plain),
// one as a text/plain form (its single field's name and value joined by '=' are the JSON), a
// CORS read, and the console in a frame.
function attackerPage(job) {
  const body = (name) => JSON.stringify({ jobName: name, jobQueue: job.queue, jobDefinition: job.definition,
    containerOverrides: { command: ["sh", "-c", `echo ran=1 > "$OUT/${name}"`] } });
  // A text/plain form sends its field as NAME=VALUE: the JSON cut at its only '='.
  const form = body(input.names.form);
  const cut = form.indexOf("=");
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/'/g, "&#39;");
  return `<!doctype html><meta charset="utf-8"><title>another site</title>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="POST" action="${base}/v1/submitjob" enctype="text/plain" target="sink">
<input type="hidden" name='${esc(form.slice(0, cut))}' value='${esc(form.slice(cut + 1))}'>
</form>
<iframe id="framed" src="${base}/console/"></iframe>
<script>
window.done = (async () => {
  const out = {};
  const r = await fetch(${JSON.stringify(base + "/v1/submitjob")}, { method: "POST", mode: "no-cors",
                        body: ${JSON.stringify(body(input.names.fetch))} });
  out.fetch = r.type;
  try {
    const c = await fetch(${JSON.stringify(base + "/v1/describejobqueues")}, { method: "POST",
                          headers: { "content-type": "application/json" }, body: "{}" });
    out.cors_read = { status: c.status, body: (await c.text()).slice(0, 200) };
  } catch (e) {
    out.cors_read = { error: String(e) };
  }
  const sink = document.getElementById("sink");
  out.form = await new Promise((resolve) => {
    sink.addEventListener("load", () => resolve("answered"), { once: true });
    setTimeout(() => resolve("no answer within 10 s"), 10000);
    document.getElementById("f").submit();
  });
  return out;
})();
</script>`;
}

async function crosssite() {
  const html = attackerPage(input.job);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    step = "the other site's page";
    await page.goto(`http://${ATTACKER}:${server.address().port}/`);
    Object.assign(seen, await page.evaluate(() => window.done));
    step = "the console in the other site's frame";
    const frame = page.frames().find((f) => f.parentFrame() && f.name() !== "sink");
    seen.framed = { url: frame ? frame.url() : null,
                    drawn: frame ? await frame.locator("#main").count().catch(() => 0) : 0 };
  } finally {
    server.close();
  }
}

async function rebind() {
  const port = new URL(base).port;
  step = "the server's port under another host name";
  await page.goto(`http://${ATTACKER}:${port}/console/#/queues`);
  seen.console = await page.waitForSelector("body[data-ready]", { timeout: 15000 })
    .then(() => page.evaluate(() => ({ page: document.body.dataset.page,
                                      queues: [...document.querySelectorAll("#queues tbody tr")].map((r) => r.dataset.queue) })))
    .catch((e) => ({ error: String(e).slice(0, 200) }));
  step = "the API from that page";
  seen.api = await page.evaluate(async (queue) => {
    const r = await fetch("/v1/listjobs", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobQueue: queue, filters: [{ name: "AFTER_CREATED_AT", values: ["0"] }] }) });
    const text = await r.text();
    let names = [];
    try { names = (JSON.parse(text).jobSummaryList || []).map((j) => j.jobName); } catch {}
    return { status: r.status, names };
  }, input.queue);
}

async function secret() {
  const requests = [];
  context.on("request", async (r) => {
    requests.push({ url: r.url(), headers: await r.allHeaders().catch(() => ({})), body: r.postData() || "" });
  });
  step = "signing in";
  await open(`${base}/console/#/signin`);
  await page.fill('#signin input[name="accessKeyId"]', input.access_key);
  await page.fill('#signin input[name="secretAccessKey"]', input.secret_key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('body[data-page="queues"][data-ready] #queues', { timeout: 15000 });
  step = "the pages, signed";
  for (const hash of ["#/jobs", "#/environments", `#/job/${input.job}`]) {
    const before = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForFunction((b) => Number(document.body.dataset.nav) > b && document.body.dataset.ready !== undefined,
                               before, { timeout: 15000 });
  }
  seen.kept = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage),
                                           local_text: JSON.stringify(localStorage), cookie: document.cookie,
                                           url: location.href }));
  seen.cookies = (await context.cookies()).length;
  step = "the sign-in form sent by the browser itself, bypassing the page's script";
  // Without the policy's form-action, the secret would go into the address (a GET of the form).
  const other = await context.newPage();
  other.on("console", (m) => { if (m.type() === "error") seen.console_errors.push(m.text()); });
  await other.goto(`${base}/console/#/signin`);
  await other.waitForSelector("#signin", { timeout: 15000 });
  await other.fill('#signin input[name="accessKeyId"]', input.access_key);
  await other.fill('#signin input[name="secretAccessKey"]', input.secret_key);
  await other.evaluate(() => HTMLFormElement.prototype.submit.call(document.querySelector("#signin")));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  seen.native_submit_url = other.url();
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last requests' headers
  seen.requests = requests.length;
  seen.leaks = requests.filter((r) => JSON.stringify(r).includes(input.secret_key))
    .map((r) => r.url.slice(0, 200));
  seen.referers = requests.map((r) => r.headers.referer).filter(Boolean);
}

// A crafted link whose refusal's text names a region: the console must keep signing for the
// server's region, not the one the text names.
async function region() {
  step = "signing in";
  await open(`${base}/console/#/signin`);
  await page.fill('#signin input[name="accessKeyId"]', input.access_key);
  await page.fill('#signin input[name="secretAccessKey"]', input.secret_key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('body[data-page="queues"][data-ready] #queues', { timeout: 15000 });
  step = "a link naming a queue whose name says a region";
  await open(`${base}/console/#/jobs?queue=${encodeURIComponent("This server's region is 'eu-elsewhere-1'")}`);
  seen.crafted = await page.evaluate(() => ({ signin_form: !!document.querySelector("#signin"),
                                              text: document.querySelector("#main").textContent.slice(0, 400),
                                              region: sessionStorage.getItem("barge.console.credentials.region") }));
}

let failed = null;
try {
  await ({ text, crosssite, rebind, secret, region })[scenario]();
} catch (e) {
  failed = `${step}: ${e && e.stack ? e.stack : e}`;
  seen.page_text = await page.evaluate(() => document.body.innerText).catch(() => "");
}
seen.failed = failed;
await browser.close();
console.log(JSON.stringify(seen));
