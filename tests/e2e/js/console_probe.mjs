// Drives barge's console in headless Chromium, for tests/e2e/test_console_probe.py: the pages
// where a user's data or the server's state is unusual (markup in free text, words longer than
// the window, multi-node jobs, jobs with very many dependents, a job removed or a server
// restarted while its page is open), and for tests/e2e/test_console_details.py what a job was
// submitted with (a multi-node job's node ranges, a container's secrets), a log longer than the
// page keeps, an ended job's log however long, a list of a queue or an array that does not
// exist, filtered lists, paging, a list kept open, the buttons' looks and signing in from a job's
// address; for test_containers.py, a job whose image is pulled.  Prints what it saw as one line of JSON.
// usage: node console_probe.mjs SCENARIO 'JSON INPUT'
// Reads BARGE_URL, BARGE_JS_DIR, BARGE_SCREENSHOTS and CHROMIUM, as console_check.mjs does.
// The scenario "follow" also talks to the test on its stdin and stdout: it prints a line
// "restart" and waits for a line "restarted" (the test restarts the server meanwhile).
import readline from "node:readline";

import { helpers, launch } from "./browser.mjs";

const [scenario, inputText] = process.argv.slice(2);
const input = JSON.parse(inputText || "{}");
const base = process.env.BARGE_URL;
const seen = { scenario, screenshots: [], console_errors: [] };

const { browser, page } = await launch();
// Refusals the scenarios ask for (an unknown job, a server that is down) are expected; the
// page's own errors are not.
page.on("console", (m) => {
  if (m.type() !== "error" || /^Failed to load resource/.test(m.text())) return;
  seen.console_errors.push(m.text());
});
page.on("pageerror", (e) => seen.console_errors.push(String(e)));

let step = "start";
// Opens a console address afresh (a bookmark, a shared link) and waits for its data.
async function open(hash) {
  await page.goto(`${base}/console/${hash}`);
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
}
const { shot, go, waitDrawn, texts } = helpers(page, seen, `probe-${scenario}`);
const text = (sel) => page.textContent(sel, { timeout: 2000 }).catch(() => null);
const width = () => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth,
                                           client: document.documentElement.clientWidth }));
const pwned = () => page.evaluate(() => window.__pwned || null);
const hrefs = (sel) => page.$$eval(sel, (as) => as.map((a) => a.getAttribute("href")));
const buttons = () => page.evaluate(() => ({ cancel: document.querySelector("#cancel").disabled,
                                             terminate: document.querySelector("#terminate").disabled,
                                             note: document.querySelector("#action-note")?.textContent || "" }));

// Free text with markup in it, everywhere the console shows it, and words longer than the window.
async function text_() {
  step = "the job whose every field holds markup";
  await open(`#/job/${input.marked}`);
  await page.waitForFunction((m) => document.querySelector("#log").textContent.includes(m), input.markup,
                             { timeout: 15000 });
  seen.marked = { reason: await text("#status-reason"), log: await text("#log"),
                  command: await page.$eval("#job-head", (e) => e.textContent),
                  attempts: await text("#attempts"), pwned: await pwned(),
                  injected: await page.$$eval("#main img, #main b, #main script", (es) => es.length) };
  await shot("marked");
  step = "the list of failed jobs, with the reason";
  await go(`#/jobs?queue=${input.queue}&status=FAILED`);
  seen.list = { reasons: await texts("#jobs tbody td:last-child"), pwned: await pwned(),
                injected: await page.$$eval("#main img, #main b", (es) => es.length) };
  step = "usage by a tag whose value holds markup";
  await go(`#/usage?queue=${input.queue}&by=${encodeURIComponent("tag:" + input.tag)}`);
  seen.usage = { keys: await page.$$eval("#usage-sums tbody tr", (rs) => rs.map((r) => r.dataset.key)),
                 cells: await texts("#usage-sums tbody td:first-child"), pwned: await pwned() };
  step = "a job with a long log line, a long command and a long reason";
  await go(`#/job/${input.long}`);
  await page.waitForFunction(() => Number(document.querySelector("#log").dataset.lines) >= 2, null,
                             { timeout: 15000 });
  seen.long_job = await width();
  await shot("long");
  await go(`#/jobs?queue=${input.queue}&status=FAILED`);
  seen.long_list = await width();
}

// A multi-node job's page lists its nodes and links to each; a node's page (JOBID#N) links back.
async function multinode() {
  step = "the multi-node job's page";
  await open(`#/job/${input.job}`);
  seen.nodes = await page.$$eval("#nodes tbody tr", (rs) => rs.map((r) => ({
    job: r.dataset.job, status: r.querySelector(".status").textContent, text: r.textContent,
    href: r.querySelector("a").getAttribute("href") })));
  seen.graph_nodes = await page.$$eval('#graph g[data-role="node"]', (gs) => gs.map((g) => g.dataset.job));
  seen.log_note = await text("#log-note");
  await shot("job");
  step = "a node, followed from the table";
  const b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.click(`#nodes tr[data-job="${input.job}#1"] a`);
  await waitDrawn(b);
  seen.node = { id: await text("#job-id"), hash: await page.evaluate(() => location.hash),
                node_of: await text("#node-of"), parent_href: await page.getAttribute("#node-parent", "href"),
                graph_parent: await page.$$eval('#graph g[data-role="parent"]', (gs) => gs.map((g) => g.dataset.job)) };
  await shot("node");
  step = "a node's address typed with its '#'";
  await open(`#/job/${input.job}#2`);
  seen.typed = await text("#job-id");
  step = "the queue's list of jobs";
  await go(`#/jobs?queue=${input.queue}&status=${input.status}`);
  seen.listed = await page.$$eval(`#jobs tr[data-job="${input.job}"] td`, (tds) => tds.map((t) => t.textContent));
}

// Cancel and Terminate as the job's state makes them: nothing to do for a job that has ended,
// and CancelJob leaves a started job running (as AWS's does).
async function actions() {
  step = "a job that has ended";
  await open(`#/job/${input.done}`);
  seen.done = await buttons();
  step = "a running job";
  await open(`#/job/${input.running}`);
  seen.running = await buttons();
  step = "a waiting job, cancelled";
  await open(`#/job/${input.waiting}`);
  seen.waiting = await buttons();
  await page.click("#cancel");
  await page.waitForFunction(() => document.querySelector("#job-head h1 .status").textContent === "FAILED",
                             null, { timeout: 20000 });
  await page.waitForFunction(() => !/sent\.$/.test(document.querySelector("#action-result").textContent),
                             null, { timeout: 5000 });
  seen.cancelled = { result: await text("#action-result"), after: await buttons() };
  await shot("cancelled");
}

// A job with many jobs waiting for it, one with the most dependencies, an array of 10,000.
async function graph() {
  for (const [k, id] of Object.entries(input.jobs)) {
    step = `the graph of ${k}`;
    await open(`#/job/${id}`);
    seen[k] = {
      drawn: await page.$$eval("#graph g.gnode", (gs) => gs.map((g) => g.dataset.role)),
      more: await page.$$eval('#graph g[data-role="more"] text', (ts) => ts.map((t) => t.textContent)),
      listed: await page.$$eval(".graph-list li", (ls) => ls.map((l) => l.dataset.job)),
      summary: await page.$$eval(".graph-list summary", (ss) => ss.map((s) => s.textContent)),
      said: await page.$$eval("#job-graph p.small", (ps) => ps.map((p) => p.textContent)),
      height: await page.evaluate(() => document.documentElement.scrollHeight),
      graph_height: Number(await page.getAttribute("#graph", "height")),
      log_top: await page.evaluate(() => document.querySelector("#log-note").getBoundingClientRect().top),
    };
    await shot(k);
  }
}

// Addresses that name no job, or cannot be decoded.
async function unknown() {
  for (const [k, hash] of Object.entries(input.hashes)) {
    step = `the address ${hash}`;
    await open(hash);
    seen[k] = await page.evaluate(() => document.querySelector("#main").innerText);
  }
}

// A job followed while the server restarts (the page says it does not answer, then goes on
// from where it was), then removed by the retention while its page is open.
async function follow() {
  step = "the running job's log";
  const lines = () => page.evaluate(() => Number(document.querySelector("#log").dataset.lines));
  await open(`#/job/${input.running}`);
  await page.waitForFunction(() => Number(document.querySelector("#log").dataset.lines) >= 2, null,
                             { timeout: 20000 });
  step = "the server restarts";
  const rl = readline.createInterface({ input: process.stdin });
  const restarted = new Promise((resolve) => rl.on("line", (l) => { if (l === "restarted") resolve(); }));
  process.stdout.write("restart\n");
  await page.waitForFunction(() => /does not answer/.test(document.querySelector("#log-note").textContent), null,
                             { timeout: 20000 });
  seen.down_note = await text("#log-note");
  await shot("server-down");
  await restarted;
  rl.close();
  const before = await lines();
  await page.waitForFunction((n) => Number(document.querySelector("#log").dataset.lines) >= n + 3 &&
                                    /following/.test(document.querySelector("#log-note").textContent),
                             before, { timeout: 20000 });
  seen.resumed = { note: await text("#log-note"), log: await text("#log") };

  step = "the job ends and is removed while the page waits for the server";
  // The page's reads of the job are held until the server has let the job go (the retention is
  // a few seconds): as a tab in the background, or a laptop asleep, would find it.
  let held = true;
  const holding = [];
  await page.route(() => true, async (route) => {
    const r = route.request();
    const isRead = r.url().endsWith("/v1/describejobs") || /GetLogEvents/.test(r.headers()["x-amz-target"] || "");
    if (!held || !isRead) return route.continue();
    holding.push(route);
  });
  await page.click("#terminate");
  const deadline = Date.now() + 30000;
  for (;;) {
    const r = await fetch(`${base}/v1/describejobs`, { method: "POST", headers: { "content-type": "application/json" },
                                                      body: JSON.stringify({ jobs: [input.running] }) });
    if (((await r.json()).jobs || []).length === 0) break;
    if (Date.now() > deadline) throw new Error("the job was not removed within 30 s");
    await new Promise((res) => setTimeout(res, 300));
  }
  held = false;
  for (const r of holding) await r.continue();
  await page.waitForSelector("#job-gone", { timeout: 10000 });
  seen.gone = { head: await text("#job-gone"), note: await text("#log-note"), buttons: await buttons(),
                result: await text("#action-result") };
  // And the page stops asking for it.
  let asked = 0;
  page.on("request", () => asked++);
  await page.waitForTimeout(3000);
  seen.gone.requests_after = asked;
  await shot("gone");
}

// What a job was submitted with: its settings, and its tags, parameters and environment, a long
// list folded, and a list the reader opened still open after the page reads the job again.
async function inputs() {
  step = "the job's page";
  await open(`#/job/${input.job}`);
  const lists = () => page.$$eval("#job-inputs details", (ds) => Object.fromEntries(ds.map((d) => [d.id, {
    open: d.open, summary: d.querySelector("summary").textContent,
    rows: [...d.querySelectorAll("tr")].map((r) => [...r.children].map((c) => c.textContent)) }])));
  seen.settings = await page.$$eval("#job-settings tr", (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
  seen.lists = await lists();
  seen.pwned = await pwned();
  seen.injected = await page.$$eval("#main img, #main b, #main script", (es) => es.length);
  await shot("page");
  if (!seen.lists["job-env"]) return;
  step = "the folded environment, opened, then the job read again";
  await page.click("#job-env summary");
  const drawn = await page.$("#job-inputs");
  const reads = [];
  page.on("request", (r) => { if (r.url().endsWith("/v1/describejobs")) reads.push(r.url()); });
  await page.waitForTimeout(4500);
  seen.reread = reads.length;
  seen.after = { lists: await lists(), same_node: await drawn.evaluate((e) => e.isConnected) };
  await shot("env-open");
}

// What a job was submitted with, the job reached from its queue's list: its settings, its lists
// (tags, parameters, environment, secrets) and a multi-node job's node ranges, each with its
// container's facts and lists; a folded range the reader opens stays open when the job is read again.
async function submitted() {
  step = "the queue's list, then the job's page";
  await open(`#/jobs?queue=${input.queue}&status=${input.status}`);
  const b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.click(`#jobs tr[data-job="${input.job}"] td:first-child a`);
  await waitDrawn(b);
  const read = () => page.$eval("#job-inputs", (part) => {
    const rows = (t) => (t ? [...t.querySelectorAll("tr")].map((r) => [...r.children].map((c) => c.textContent)) : []);
    const lists = (root) => Object.fromEntries([...root.querySelectorAll(":scope > .kv-lists > details.kv")].map((d) =>
      [d.id, { open: d.open, summary: d.querySelector("summary").textContent, rows: rows(d.querySelector("table")) }]));
    return {
      settings: rows(part.querySelector("#job-settings")), lists: lists(part),
      empty: [...part.querySelectorAll(":scope > p.small")].map((p) => p.textContent),
      ranges_title: part.querySelector("#job-node-ranges h3")?.textContent ?? null,
      ranges: [...part.querySelectorAll("#job-node-ranges details.node-range")].map((d) => ({
        id: d.id, target: d.dataset.target, open: d.open, summary: d.querySelector("summary").textContent,
        facts: rows(d.querySelector("table.node-container")), lists: lists(d),
        empty: [...d.querySelectorAll(":scope > p.small")].map((p) => p.textContent) })),
    };
  });
  Object.assign(seen, { id: await text("#job-id"), ...(await read()) });
  seen.pwned = await pwned();
  seen.injected = await page.$$eval("#main img, #main b, #main script", (es) => es.length);
  await shot(input.name);
  const folded = seen.ranges.find((r) => !r.open);
  if (!folded) return;
  step = "a folded node range, opened, then the job read again";
  await page.click(`#${folded.id} > summary`);
  const drawn = await page.$("#job-inputs");
  const reads = [];
  page.on("request", (r) => { if (r.url().endsWith("/v1/describejobs")) reads.push(r.url()); });
  await page.waitForTimeout(4500);
  seen.reread = reads.length;
  seen.after = { opened: folded.id, ranges: (await read()).ranges, same_node: await drawn.evaluate((e) => e.isConnected) };
  await shot(`${input.name}-range-open`);
}

// A log longer than the page keeps, followed as its last lines come: the job prints the numbers
// from 1 to input.last, one a line, the last ones slowly.
async function longlog() {
  step = "the log, read to its last line";
  await open(`#/job/${input.job}`);
  await page.waitForFunction((w) => document.querySelector("#log").textContent.endsWith(`\n${w}\n`),
                             String(input.last), { timeout: 90000 });
  // A second later, nothing more: a line read twice would show now.
  await page.waitForTimeout(2500);
  seen.log = await page.evaluate(() => {
    const pre = document.querySelector("#log");
    const lines = pre.textContent.split("\n").slice(0, -1);
    return { count: lines.length, first: lines[0], last: lines[lines.length - 1],
             consecutive: lines.every((l, i) => i === 0 || Number(l) === Number(lines[i - 1]) + 1),
             read: pre.dataset.lines, shown: pre.dataset.shown, dropped: pre.dataset.dropped,
             at_bottom: pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4 };
  });
  seen.trimmed = await text("#log-trimmed");
  seen.trimmed_above = await page.evaluate(() => {
    const n = document.querySelector("#log-trimmed");
    return !!n && !n.hidden && !!(n.compareDocumentPosition(document.querySelector("#log")) &
                                  Node.DOCUMENT_POSITION_FOLLOWING);
  });
  seen.note = await text("#log-note");
  await shot("end");
}

// A list of a queue, or of an array's children, that the server refuses: the form stays, and
// choosing a queue in it lists that queue.
async function badlist() {
  for (const [k, hash] of Object.entries(input.hashes)) {
    step = `the address ${hash}`;
    await open(hash);
    seen[k] = { error: await text("#main .error"), form: !!(await page.$("#job-filters")) };
    await shot(k);
    if (!seen[k].form) continue;
    seen[k].queue_shown = await page.$eval('#job-filters select[name="queue"]', (s) => s.offsetParent !== null);
    step = `another queue chosen after ${hash}`;
    await page.selectOption('#job-filters select[name="queue"]', input.queue);
    const b = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.click('#job-filters button[type="submit"]');
    await waitDrawn(b);
    seen[k].then = { hash: await page.evaluate(() => location.hash), error: await text("#main .error"),
                     jobs: await texts("#jobs tbody tr td:nth-child(2)") };
  }
}

// An ended job's log, read to its end however long: the page waits input.wait ms at most for
// input.lines lines, then says what it read.
async function endedlog() {
  step = "the ended job's log";
  await open(`#/job/${input.job}`);
  const t0 = Date.now();
  await page.waitForFunction((n) => Number(document.querySelector("#log").dataset.lines) >= n &&
                                    !/reading/.test(document.querySelector("#log-note").textContent),
                             input.lines, { timeout: input.wait }).catch(() => {});
  seen.ms = Date.now() - t0;
  await page.waitForTimeout(1500); // nothing more comes after the end
  seen.log = await page.evaluate(() => {
    const pre = document.querySelector("#log");
    const lines = pre.textContent.split("\n").slice(0, -1);
    return { read: Number(pre.dataset.lines), shown: Number(pre.dataset.shown), last: lines[lines.length - 1] };
  });
  seen.note = await text("#log-note");
  seen.trimmed = await text("#log-trimmed");
  await shot("ended");
}

// The jobs list's addresses (input.hashes), each opened afresh: what it lists and says.
async function lists() {
  for (const [k, hash] of Object.entries(input.hashes)) {
    step = `the address ${hash}`;
    await open(hash);
    seen[k] = await listed();
    await shot(k);
    if (!input.next || !input.next.includes(k) || !seen[k].next) continue;
    step = `the page after ${hash}`;
    const b = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.click("#next-page");
    await waitDrawn(b);
    seen[k].then = await listed();
  }
}

async function listed() {
  return page.evaluate(() => ({
    error: document.querySelector("#main .error")?.textContent ?? null,
    jobs: [...document.querySelectorAll("#jobs tbody tr")].map((r) => r.dataset.job),
    none: document.querySelector("#no-jobs")?.textContent ?? null,
    next: !!document.querySelector("#next-page"),
    form: Object.fromEntries(["name", "after", "before"].map((n) =>
      [n, document.querySelector(`#job-filters input[name="${n}"]`).value])),
  }));
}

// Previous and Next from a page opened from a link (input.hash, a second page), and from the
// first page: Previous goes to the page before within the console, or is off when the page
// before is not known.
async function paging() {
  const where = () => page.evaluate(() => ({ hash: location.hash, url: location.pathname,
    jobs: [...document.querySelectorAll("#jobs tbody tr")].map((r) => r.dataset.job),
    prev: document.querySelector("#prev-page")?.getAttribute("href") ?? null }));
  const click = async (sel) => {
    const b = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.click(sel);
    await waitDrawn(b).catch(() => {});
    return where();
  };
  step = "a second page opened from a link";
  await page.goto("about:blank");
  await open(input.hash);
  seen.linked = await where();
  seen.linked_prev_clicked = await page.click("#prev-page", { timeout: 2000 }).then(() =>
    page.waitForTimeout(1000)).then(() => page.evaluate(() => location.href)).catch((e) => String(e));
  if (!seen.linked_prev_clicked.includes("/console/")) await open(input.hash);
  step = "on to the third page and back";
  seen.third = await click("#next-page");
  seen.back = await click("#prev-page");
  step = "from the first page to the second and back";
  await open(input.first);
  seen.first = await where();
  seen.second = await click("#next-page");
  seen.first_again = await click("#prev-page");
}

// The list of a job's dependents, opened by the reader, while the page reads the job again;
// how Cancel and Terminate look, on and off.
async function looks() {
  step = "the list of the jobs that wait for it";
  await open(`#/job/${input.waiting}`);
  await page.click("#all-dependents summary");
  const n0 = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.waitForTimeout(4500); // the description is read again every 2 s
  seen.list_open = await page.evaluate(() => document.querySelector("#all-dependents").open);
  seen.same_page = n0 === await page.evaluate(() => Number(document.body.dataset.nav));
  const style = (sel) => page.$eval(sel, (b) => {
    const s = getComputedStyle(b);
    return { disabled: b.disabled, cursor: s.cursor, color: s.color, background: s.backgroundColor };
  });
  seen.on = await style("#terminate");
  step = "an ended job's buttons";
  await open(`#/job/${input.ended}`);
  seen.off = await style("#terminate");
  seen.cancel_off = await style("#cancel");
  await shot("off");
}

// Signing in to a --credentials server from a job's address opened in a fresh tab, with a key
// pasted with an invisible character; then with a key holding one no key has.
async function signin() {
  const form = async (key, secret) => {
    await page.waitForSelector("#signin", { timeout: 10000 });
    await page.fill('#signin input[name="accessKeyId"]', key);
    await page.fill('#signin input[name="secretAccessKey"]', secret);
    await page.click('#signin button[type="submit"]');
  };
  step = "the job's address in a fresh tab";
  await open(`#/job/${input.job}`);
  seen.first = { page: await page.evaluate(() => document.body.dataset.page), form: !!(await page.$("#signin")) };
  await form(input.access_key, input.secret_key);
  seen.job = await page.waitForSelector("#job-id", { timeout: 8000 }).then((e) => e.textContent())
    .catch(() => null);
  seen.said = await text("#signin-error");
  seen.hash = await page.evaluate(() => location.hash);
  step = "a key pasted with invisible characters";
  await page.evaluate(() => sessionStorage.clear());
  await open(`#/signin?then=${encodeURIComponent("#/queues")}`);
  await form("\u200b" + input.access_key + "\ufeff", input.secret_key);
  seen.pasted = await page.waitForSelector('body[data-page="queues"][data-ready]', { timeout: 8000 })
    .then(() => "queues").catch(() => null);
  seen.pasted_said = await text("#signin-error");
  step = "a key holding a character no key has";
  await page.evaluate(() => sessionStorage.clear());
  await open(`#/signin?then=${encodeURIComponent("#/queues")}`);
  await form(input.access_key + "\u2019", input.secret_key);
  await page.waitForFunction(() => !/Checking/.test(document.querySelector("#signin-error").textContent),
                             null, { timeout: 10000 }).catch(() => {});
  seen.strange = await text("#signin-error");
  await shot("strange");
}

// A STARTING job whose agent pulls its image says so (test_containers.py's hanging registry).
async function pulling() {
  step = "the page of a job whose image is pulled";
  await open(`#/job/${input.job}`);
  seen.status = await text("#job-head h1 .status");
  seen.pulling = await text("#pulling");
  await shot("pulling");
}

// A RUNNING job whose output the server refuses for room says so (test_store_outage.py).
async function waiting() {
  step = "the page of a job whose output waits";
  await open(`#/job/${input.job}`);
  seen.waiting = await text("#output-waiting");
  await shot("output-waiting");
}

const scenarios = { text: text_, multinode, actions, graph, unknown, follow, inputs, submitted, longlog,
                    badlist, pulling, endedlog, lists, paging, looks, signin, waiting };
let failed = null;
try {
  await scenarios[scenario]();
} catch (e) {
  failed = `${step}: ${e.message}`;
  try { await shot("failure"); } catch { /* the browser may be gone */ }
  seen.page_text = await page.evaluate(() => document.body.innerText).catch(() => "");
}
await browser.close();
seen.failed = failed;
console.log(JSON.stringify(seen));
process.exit(0); // stdin, which "follow" reads, would keep node running
