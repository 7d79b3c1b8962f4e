// Drives barge's console in headless Chromium (Debian's /usr/bin/chromium) with Playwright, for
// tests/e2e/test_console.py: clicks through the pages as a person would and prints what it saw
// as one line of JSON, which the test checks against the server's own answers.
// usage: node console_check.mjs SCENARIO 'JSON INPUT'
//   SCENARIO: dev (the pages, against a --dev server) or signin (a --credentials server)
// Reads BARGE_URL, BARGE_JS_DIR, BARGE_SCREENSHOTS (a directory) and CHROMIUM (the browser).

import { helpers, launch } from "./browser.mjs";

const [scenario, inputText] = process.argv.slice(2);
const input = JSON.parse(inputText || "{}");
const base = process.env.BARGE_URL;
const seen = { scenario, screenshots: [], console_errors: [] };

const { browser, page } = await launch();
// Chromium reports each refused request; the sign-in scenario expects the server's refusals.
page.on("console", (m) => {
  if (m.type() !== "error") return;
  if (scenario === "signin" && /^Failed to load resource: .* status of 403/.test(m.text())) return;
  seen.console_errors.push(m.text());
});
page.on("pageerror", (e) => seen.console_errors.push(String(e)));

let step = "start";
// Screenshots, moving within the console, reading texts (browser.mjs).
const { shot, go, waitDrawn, texts } = helpers(page, seen, `${scenario}`);

async function dev() {
  step = "root redirects";
  const resp = await page.goto(base + "/");
  seen.root = { url: page.url(), status: resp.status() };
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
  seen.root.page = await page.evaluate(() => document.body.dataset.page);

  step = "queues";
  const counts = {};
  for (const q of await page.$$eval("#queues tbody tr", (rs) => rs.map((r) => r.dataset.queue))) {
    counts[q] = {};
    for (const [s, n] of await page.$$eval(`#queues tr[data-queue="${q}"] td[data-status]`,
      (tds) => tds.map((td) => [td.dataset.status, td.querySelector("a").textContent])))
      counts[q][s] = Number(n.replace(/,/g, ""));
  }
  seen.queues = counts;
  await shot("queues");

  step = "compute environments";
  await page.click('nav a[data-nav="environments"]');
  await page.waitForSelector('body[data-page="environments"][data-ready]');
  seen.environments = await page.$$eval("section.ce", (ss) => ss.map((s) => ({
    name: s.dataset.ce, vcpus: s.querySelector(".vcpus").textContent,
    instances: s.querySelectorAll("table.instances tbody tr").length })));
  await shot("environments");

  step = "jobs list, by status, with paging";
  await go(`#/jobs?queue=${input.list_queue}&status=RUNNABLE`);
  const pages = [];
  pages.push(await texts("#jobs tbody tr td:nth-child(2)"));
  await shot("jobs-runnable");
  while (await page.$("#next-page") && pages.length < 10) {
    const before = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.click("#next-page");
    await waitDrawn(before);
    pages.push(await texts("#jobs tbody tr td:nth-child(2)"));
  }
  seen.paging = pages;
  const before = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.click("#prev-page");
  await waitDrawn(before);
  seen.paging_back = await texts("#jobs tbody tr td:nth-child(2)");

  step = "jobs list, filtered by name through the form";
  await go(`#/jobs?queue=${input.list_queue}&status=RUNNABLE`);
  let b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.selectOption('#job-filters select[name="status"]', "");
  await page.fill('#job-filters input[name="name"]', input.name_filter);
  await page.click('#job-filters button[type="submit"]');
  await waitDrawn(b);
  seen.by_name = await texts("#jobs tbody tr td:nth-child(1)");
  await shot("jobs-by-name");

  step = "jobs list, filtered by creation time through the form";
  b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.fill('#job-filters input[name="name"]', "");
  await page.fill('#job-filters input[name="after"]', input.created_after);
  await page.click('#job-filters button[type="submit"]');
  await waitDrawn(b);
  seen.by_time = await texts("#jobs tbody tr td:nth-child(1)");
  seen.by_time_hash = await page.evaluate(() => location.hash);

  step = "jobs list, status and queue through the form";
  await go(`#/jobs?queue=${input.list_queue}&status=RUNNABLE`);
  b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.selectOption('#job-filters select[name="queue"]', input.done_queue);
  await page.fill('#job-filters input[name="name"]', "");
  await page.selectOption('#job-filters select[name="status"]', "FAILED");
  await page.click('#job-filters button[type="submit"]');
  await waitDrawn(b);
  seen.failed_list = await texts("#jobs tbody tr td:nth-child(2)");

  step = "a job page: attempts, exit code, the graph";
  b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.click(`#jobs tr[data-job="${input.failed_job}"] td:first-child a`);
  await waitDrawn(b);
  seen.failed_job = {
    status: await page.textContent("#job-head h1 .status"),
    exit_code: await page.textContent("#exit-code").catch(() => null),
    attempts: await texts("#attempts tbody tr td.exit"),
    graph_dependents: await page.$$eval('#graph g[data-role="dependent"]', (gs) => gs.map((g) => g.dataset.job)),
  };
  await shot("job-failed");
  await go(`#/job/${input.dependent_job}`);
  seen.dependent_job = {
    graph_dependencies: await page.$$eval('#graph g[data-role="dependency"]', (gs) => gs.map((g) => g.dataset.job)),
    graph_self: await page.$$eval('#graph g[data-role="self"]', (gs) => gs.map((g) => g.dataset.job)),
    edges: await page.$$eval("#graph path.edge", (ps) => ps.length),
    usage: await texts("#usage tr"),
  };
  await shot("job-dependent");
  // The graph's node leads to the dependency's own page.
  b = await page.evaluate(() => Number(document.body.dataset.nav));
  await page.click('#graph g[data-role="dependency"] a');
  await waitDrawn(b);
  seen.dependency_page = await page.textContent("#job-id");
  if (input.array_job) {
    await go(`#/job/${input.array_job}`);
    seen.array_job = { children: await page.textContent("#children"),
                       node: await page.$$eval('#graph g[data-role="children"] text', (ts) => ts.map((t) => t.textContent)) };
    await shot("job-array");
    b = await page.evaluate(() => Number(document.body.dataset.nav));
    await page.click("#children-link");
    await waitDrawn(b);
    seen.array_children = await texts("#jobs tbody tr td:nth-child(2)");
  }

  step = "usage, summed by job definition, then by a tag through the form";
  await page.click('nav a[data-nav="usage"]');
  await page.waitForSelector('body[data-page="usage"][data-ready]');
  await go(`#/usage?queue=${input.done_queue}`);
  const sums = () => page.$$eval("#usage-sums tbody tr", (rs) => rs.map((r) => ({
    key: r.dataset.key, jobs: Number(r.children[1].textContent.replace(/,/g, "")),
    vcpu: Number(r.querySelector('[data-col="vcpu"]').textContent.replace(/,/g, "")) })));
  seen.usage_by_definition = await sums();
  seen.usage_by_shown = await page.$eval("#usage-by", (e) => e.value);
  await shot("usage");
  const beforeTag = await page.evaluate(() => Number(document.body.dataset.nav || 0));
  await page.selectOption("#usage-by", "tag");
  await page.fill("#usage-tag", input.usage_tag);
  await page.click('#usage-form button[type="submit"]');
  await waitDrawn(beforeTag);
  seen.usage_by_tag = await sums();
  seen.usage_hash = await page.evaluate(() => location.hash);
  // The attempts that ended in the last hour (every one here), then before the jobs ran.
  const beforeEnded = await page.evaluate(() => Number(document.body.dataset.nav || 0));
  await page.selectOption("#usage-ended", "1h");
  await page.click('#usage-form button[type="submit"]');
  await waitDrawn(beforeEnded);
  seen.usage_last_hour = await sums();
  seen.usage_last_hour_hash = await page.evaluate(() => location.hash);
  seen.usage_last_hour_total = await page.textContent("#usage-total");
  await go(`#/usage?queue=${input.done_queue}&before=${input.before_jobs_ms}`);
  seen.usage_before_jobs = await sums();

  step = "the live log of a running job";
  await go(`#/job/${input.running_job}`);
  // Lines "PREFIX N", numbered from 1: the page shows some, then the ones printed after.
  const lines = () => page.evaluate(() => document.querySelector("#log").textContent.split("\n"));
  const t0 = Date.now();
  await page.waitForFunction((p) => document.querySelector("#log").textContent.includes(p),
                             input.line_prefix, { timeout: 20000 });
  const firstText = await page.textContent("#log");
  const last = Math.max(...(await lines()).filter((l) => l.startsWith(input.line_prefix))
                                          .map((l) => Number(l.slice(input.line_prefix.length))));
  const want = input.line_prefix + (last + 3);
  await page.waitForFunction((w) => document.querySelector("#log").textContent.split("\n").includes(w),
                             want, { timeout: 20000 });
  seen.live_log = { first_at_ms: Date.now() - t0, first_text: firstText, later_text: await page.textContent("#log"),
                    note: await page.textContent("#log-note") };
  await shot("job-running-log");

  step = "terminate";
  await page.fill("#reason", input.reason);
  await page.click("#terminate");
  await page.waitForFunction(() => document.querySelector("#job-head h1 .status").textContent === "FAILED",
                             null, { timeout: 20000 });
  seen.terminated = { status: await page.textContent("#job-head h1 .status"),
                      reason: await page.textContent("#status-reason").catch(() => ""),
                      result: await page.textContent("#action-result") };
  await shot("job-terminated");

  step = "cancel";
  await go(`#/job/${input.cancel_job}`);
  await page.click("#cancel");
  await page.waitForFunction(() => document.querySelector("#job-head h1 .status").textContent === "FAILED",
                             null, { timeout: 20000 });
  seen.cancelled = { job: await page.textContent("#job-id"), status: await page.textContent("#job-head h1 .status"),
                     result: await page.textContent("#action-result") };
  await shot("job-cancelled");
}

async function signin() {
  step = "console without credentials";
  await page.goto(base + "/console/");
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
  seen.first = { page: await page.evaluate(() => document.body.dataset.page),
                 form: !!(await page.$("#signin")), error: await page.textContent("#signin-error") };
  await shot("signin-asked");

  step = "wrong secret";
  await page.fill('#signin input[name="accessKeyId"]', input.access_key);
  await page.fill('#signin input[name="secretAccessKey"]', input.secret_key + "-wrong");
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector("#signin-error .error", { timeout: 10000 });
  seen.wrong = await page.textContent("#signin-error .error");
  await shot("signin-wrong-secret");

  step = "right secret";
  await page.fill('#signin input[name="accessKeyId"]', input.access_key);
  await page.fill('#signin input[name="secretAccessKey"]', input.secret_key);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('body[data-page="queues"][data-ready] #queues', { timeout: 15000 });
  seen.queues = await page.$$eval("#queues tbody tr", (rs) => rs.map((r) => r.dataset.queue));
  seen.who = await page.textContent("#who-key");
  seen.stored = await page.evaluate(() => Object.keys(sessionStorage));
  await shot("signin-queues");

  step = "a job page, signed";
  await go(`#/job/${input.job}`);
  seen.job = { id: await page.textContent("#job-id"), status: await page.textContent("#job-head h1 .status") };
  await page.waitForFunction((l) => document.querySelector("#log").textContent.includes(l),
                             input.log_line, { timeout: 20000 });
  seen.job.log = await page.textContent("#log");

  step = "sign out";
  await page.click("#signout");
  await page.waitForSelector('body[data-page="signin"][data-ready] #signin', { timeout: 10000 });
  seen.signed_out = await page.evaluate(() => Object.keys(sessionStorage));
}

let failed = null;
try {
  await (scenario === "dev" ? dev() : signin());
} catch (e) {
  failed = `${step}: ${e.message}`;
  try { await shot("failure"); } catch { /* the browser may be gone */ }
  seen.page_text = await page.evaluate(() => document.body.innerText).catch(() => "");
}
await browser.close();
seen.failed = failed;
console.log(JSON.stringify(seen));
