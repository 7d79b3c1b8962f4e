// Times the console's pages in headless Chromium for bench/console_pages.py: for each page,
// a fresh navigation to its address until the page says its data is drawn (body[data-ready]),
// and the same page reached from another page of the console, several times; prints one line
// of JSON.
// usage: node console_pages.mjs 'JSON {"base": URL, "pages": [[NAME, HASH], ...], "repeat": N}'
// Reads BARGE_JS_DIR (where tests/e2e/js/install.sh put playwright-core) and CHROMIUM.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.BARGE_JS_DIR, "package.json"));
const { chromium } = require("playwright-core");
const { base, pages, repeat, shots } = JSON.parse(process.argv[2]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const out = {};
// A first load, so that the script and style sheet are cached as a returning user has them.
await page.goto(base + "/console/#/queues");
await page.waitForSelector("body[data-ready]", { timeout: 60000 });
for (const [name, hash] of pages) {
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    await page.goto("about:blank");
    const t0 = Date.now();
    await page.goto(base + "/console/" + hash);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, null,
                               { timeout: 120000, polling: "raf" });
    const total = Date.now() - t0;
    const drawn = Number(await page.evaluate(() => document.body.dataset.ready));
    const error = await page.$eval("main", (m) => (m.querySelector(".error") || {}).textContent || "");
    const rows = await page.$$eval("main tbody tr", (r) => r.length);
    // The same page reached from another one inside the console (a click on a link): the
    // script is running already, so this is the data calls and the drawing.
    await page.goto(base + "/console/#/signin"); // a page of no data, to come from
    await page.waitForSelector("body[data-ready]", { timeout: 120000 });
    const before = await page.evaluate(() => Number(document.body.dataset.nav));
    const t1 = Date.now();
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForFunction((b) => Number(document.body.dataset.nav) > b &&
                                      document.body.dataset.ready !== undefined, before,
                               { timeout: 120000, polling: "raf" });
    const inApp = Date.now() - t1;
    runs.push({ total, drawn, inApp, rows, error });
  }
  if (shots) await page.screenshot({ path: path.join(shots, `bench-${name}.png`), fullPage: false });
  out[name] = runs;
}
await browser.close();
console.log(JSON.stringify(out));
