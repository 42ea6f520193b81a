// Opens Switchboard's browsable API docs (/api/docs) in headless Chromium and reports what rendered:
// how many operations, which paths, whether a route's roles are shown, and any page errors.
// Usage: node api_docs.mjs URL
import { launch } from './chromium.mjs';

const [url] = process.argv.slice(2);
const browser = await launch();
const errors = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto(url);
  await page.waitForSelector('.opblock', { timeout: 15000 });
  const operations = await page.locator('.opblock').count();
  const paths = await page.locator('.opblock-summary-path').allTextContents();
  // Open one operation: its description carries the roles it admits.
  await page.locator('#operations-me-put_my_presence .opblock-summary').click();
  await page.waitForSelector('#operations-me-put_my_presence .opblock-description-wrapper', { timeout: 5000 });
  const description = await page.locator('#operations-me-put_my_presence .opblock-description-wrapper').first().innerText();
  console.log(JSON.stringify({ operations, paths: paths.map((p) => p.replace(/\u200b/g, '')), description, errors }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
