// Drives the node's own softphone page (/phone) in headless Chromium as a person would: types into
// its fields and clicks its buttons. Commands on stdin, one per line; reports on stdout as JSON:
//   "login <user> <password>"  → {"status": "<status line>"} once the page says registered or failed
//   "wait-incoming"            → {"incoming": "<caller shown>", "via": "<what it came through>"}
//                                 once the page shows a ringing call
//   "click <button id>"        → {"clicked": "<id>"}
//   "dial <number>"            → {"clicked": "call"}
//   "wait-status <text>"       → {"status": "…"} once the status line contains <text>
//   "listen <hz> <ms>"         → {"heard": {…}} as sip_phone.mjs measures the remote audio
//   "close"
// The fake microphone plays $FAKE_AUDIO when set.
// usage: node phone_page.mjs PAGE_URL

import { createInterface } from 'node:readline';
import { launch, measureTone } from './chromium.mjs';

const [pageUrl] = process.argv.slice(2);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const browser = await launch();
const page = await browser.newPage();
page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`[page error] ${e}\n`));
await page.goto(pageUrl);

const status = () => page.locator('#status').textContent();
async function waitStatus(text, ms = 20000) {
  await page.waitForFunction((t) => document.getElementById('status').textContent.includes(t), text, { timeout: ms });
  return status();
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...rest] = line.trim().split(/\s+/);
  try {
    if (command === 'close') break;
    if (command === 'login') {
      await page.fill('#user', rest[0]);
      await page.fill('#password', rest[1]);
      await page.click('#sign-in');
      await page.waitForFunction(() => /Registrert|feilet/.test(document.getElementById('status').textContent), null, { timeout: 20000 });
      say({ status: await status() });
    } else if (command === 'wait-incoming') {
      await page.waitForSelector('#incoming:not([hidden])', { timeout: 20000 });
      say({
        incoming: await page.locator('#incoming-from').textContent(),
        via: await page.locator('#incoming-via').textContent(),
      });
    } else if (command === 'click') {
      await page.click(`#${rest[0]}`);
      say({ clicked: rest[0] });
    } else if (command === 'dial') {
      await page.fill('#number', rest[0]);
      await page.click('#call');
      say({ clicked: 'call' });
    } else if (command === 'key') {
      await page.click(`#keypad button:text-is("${rest[0]}")`);
      say({ clicked: `key ${rest[0]}` });
    } else if (command === 'transfer') {
      await page.fill('#transfer-to', rest[0]);
      await page.click('#transfer button[type=submit]');
      say({ clicked: 'transfer' });
    } else if (command === 'wait-status') {
      say({ status: await waitStatus(rest.join(' ')) });
    } else if (command === 'listen') {
      const track = await page.evaluateHandle(() => {
        const audio = document.getElementById('remote');
        return audio.srcObject ? audio.srcObject.getAudioTracks()[0] : null;
      });
      const heard = await page.evaluate(measureTone, [track, Number(rest[0]), Number(rest[1])]);
      say({ heard });
    }
  } catch (e) {
    say({ error: `${command}: ${e.message}`, status: await status().catch(() => null) });
  }
}
await page.screenshot({ path: process.env.SCREENSHOT ?? '/dev/null' }).catch(() => {});
await browser.close();
process.exit(0);
