// Logs in to Switchboard through its OpenID Connect login, as a person in a browser: opens START_URL
// (Switchboard's /api/v1/auth/oidc/login), fills the provider's login form with LOGIN, consents, and
// prints the page address Switchboard finally sends the browser to (its fragment holds the tokens).
// Usage: node oidc_login.mjs START_URL LOGIN
import { launch } from './chromium.mjs';

const [startUrl, login] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(startUrl);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  // The consent page, the first time.
  await page.waitForSelector('button[type=submit]', { timeout: 10000 });
  await Promise.all([
    page.waitForURL(/access_token=|error=/, { timeout: 15000 }),
    page.click('button[type=submit]'),
  ]);
  console.log(JSON.stringify({ url: page.url() }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
