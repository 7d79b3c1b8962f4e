// console_edges.mjs — test_console_probe.ConsoleEdgesTest's driver: opens each page of
// its argument's JSON (pages: {key: hash}, width) at that width and says what it shows (an error, its
// width, the graph's nodes, an array child's facts, the jobs listed, the log's scroll), then the
// usage form's message for a tag with no key; prints one JSON line.
import { launch } from "./browser.mjs";
const input = JSON.parse(process.argv[2]);
const base = process.env.BARGE_URL;
const seen = { console_errors: [], pages: {} };
const { browser, page } = await launch();
page.on("console", (m) => {
  if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) seen.console_errors.push(m.text());
});
page.on("pageerror", (e) => seen.console_errors.push(String(e)));
await page.setViewportSize({ width: input.width, height: 900 });
const open = async (hash) => {
  await page.goto(`${base}/console/${hash}`);
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
};
try {
  for (const [k, hash] of Object.entries(input.pages)) {
    await open(hash);
    // A log's first scroll comes once it is laid out: a frame or two, and up to 5 s more on a
    // busy machine; then what the page shows is read whatever it is.
    await page.waitForTimeout(400);
    await page.waitForFunction(() => {
      const pre = document.querySelector("#log");
      return !pre || pre.hidden || pre.scrollHeight <= pre.clientHeight ||
        pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    }, null, { timeout: 5000 }).catch(() => {});
    seen.pages[k] = await page.evaluate(() => {
      const q = (s) => document.querySelector(s);
      const pre = q("#log");
      return {
        error: q("#main .error")?.textContent ?? null,
        width: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        graph: [...document.querySelectorAll("#graph g.gnode")].map((g) => ({
          role: g.dataset.role, job: g.dataset.job ?? null,
          text: [...g.querySelectorAll("text")].map((t) => t.textContent) })),
        child_of: q("#child-of")?.textContent ?? null,
        forms: document.querySelectorAll("#main form").length,
        facts: Object.fromEntries([...document.querySelectorAll(".facts tr")].map((r) =>
          [r.querySelector("th")?.textContent ?? "", r.querySelector("td")?.textContent ?? ""])),
        children: q("#children")?.textContent ?? null,
        jobs: [...document.querySelectorAll("#jobs tbody tr")].map((r) => r.dataset.job),
        log: pre && !pre.hidden ? { lines: pre.dataset.lines,
                                    at_bottom: pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4,
                                    scrolls: pre.scrollHeight > pre.clientHeight } : null,
      };
    });
    await page.screenshot({ path: `${process.env.BARGE_SCREENSHOTS}/edges-${input.width}-${k}.png`, fullPage: true });
  }
  if (input.usage_queue) {
    await open(`#/usage?queue=${input.usage_queue}`);
    await page.selectOption("#usage-by", "tag");
    await page.click('#usage-form button[type="submit"]');
    seen.usage_tag = await page.$eval("#usage-tag", (e) => e.validationMessage);
  }
  seen.failed = null;
} catch (e) {
  seen.failed = String(e);
}
await browser.close();
console.log(JSON.stringify(seen));
