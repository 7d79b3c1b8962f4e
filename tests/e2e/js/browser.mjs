// What the console's browser scripts (console_check.mjs, console_probe.mjs) share: headless
// Chromium (Debian's, or $CHROMIUM) through the playwright-core that install.sh put in
// $BARGE_JS_DIR, one page of 1280 x 900, and moving about the console's pages.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.BARGE_JS_DIR, "package.json"));
const { chromium } = require("playwright-core");

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  return { browser, page };
}

// Screenshots into $BARGE_SCREENSHOTS named PREFIX-NAME.png, listed in seen.screenshots; go(hash)
// moves within the console and waits for the new page's data to be drawn (body[data-nav] counts
// the pages drawn, body[data-ready] says the data is there).
export function helpers(page, seen, prefix) {
  async function shot(name) {
    const file = path.join(process.env.BARGE_SCREENSHOTS, `${prefix}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    seen.screenshots.push(file);
  }
  async function waitDrawn(before) {
    await page.waitForFunction((b) => Number(document.body.dataset.nav || 0) > b &&
                                      document.body.dataset.ready !== undefined, before,
                               { timeout: 15000 });
  }
  async function go(hash) {
    const before = await page.evaluate(() => Number(document.body.dataset.nav || 0));
    await page.evaluate((h) => { location.hash = h; }, hash);
    await waitDrawn(before);
  }
  const texts = (sel) => page.$$eval(sel, (es) => es.map((e) => e.textContent.trim()));
  return { shot, go, waitDrawn, texts };
}
