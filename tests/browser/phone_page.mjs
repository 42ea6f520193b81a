// Drives the node's own softphone page (/phone) in headless Chromium as a person would: types into
// its fields and clicks its buttons. Commands on stdin, one per line; reports on stdout as JSON:
//   "login <user> <password>"  → {"status": "<status line>"} once the page says registered or failed
//   "wait-incoming"            → {"incoming": "<caller shown>"} once the page shows a ringing call
//   "click <button id>"        → {"clicked": "<id>"}
//   "dial <number>"            → {"clicked": "call"}
//   "wait-status <text>"       → {"status": "…"} once the status line contains <text>
//   "listen <hz> <ms>"         → {"heard": {…}} as sip_phone.mjs measures the remote audio
//   "close"
// The fake microphone plays $FAKE_AUDIO when set.
// usage: node phone_page.mjs PAGE_URL

import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [pageUrl] = process.argv.slice(2);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const args = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
  '--ignore-certificate-errors',
];
if (process.env.FAKE_AUDIO) args.push(`--use-file-for-fake-audio-capture=${process.env.FAKE_AUDIO}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/lib/chromium/chromium',
  headless: true,
  args,
});
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
      say({ incoming: await page.locator('#incoming-from').textContent() });
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
      const heard = await page.evaluate(async ([hz, ms]) => {
        const audio = document.getElementById('remote');
        const track = audio.srcObject && audio.srcObject.getAudioTracks()[0];
        if (!track) return { hz, share: 0, samples: 0, rms: 0, error: 'no remote track' };
        const reader = new MediaStreamTrackProcessor({ track: track.clone() }).readable.getReader();
        const samples = [];
        let rate = 48000;
        const until = performance.now() + ms;
        while (performance.now() < until) {
          const { value, done } = await reader.read();
          if (done) break;
          rate = value.sampleRate;
          const buf = new Float32Array(value.numberOfFrames);
          value.copyTo(buf, { planeIndex: 0, format: 'f32-planar' });
          value.close();
          for (const s of buf) samples.push(s);
        }
        reader.cancel();
        const w = (2 * Math.PI * hz) / rate;
        const coeff = 2 * Math.cos(w);
        let s1 = 0, s2 = 0, energy = 0;
        for (const x of samples) { const s0 = x + coeff * s1 - s2; s2 = s1; s1 = s0; energy += x * x; }
        const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        const share = energy > 0 ? (2 * power) / (samples.length * energy) : 0;
        return { hz, share, samples: samples.length, rms: samples.length ? Math.sqrt(energy / samples.length) : 0 };
      }, [Number(rest[0]), Number(rest[1])]);
      say({ heard });
    }
  } catch (e) {
    say({ error: `${command}: ${e.message}`, status: await status().catch(() => null) });
  }
}
await page.screenshot({ path: process.env.SCREENSHOT ?? '/dev/null' }).catch(() => {});
await browser.close();
process.exit(0);
