// A staff member's browser for the end-to-end tests: headless Chromium (Debian's) with JsSIP as the
// node serves it (/assets/jssip.js), registered over SIP over WebSocket. The Rust test talks to this
// script over stdin/stdout, one JSON object per line:
//   out {"registered": true} or {"registered": false, "cause": "..."} once registration settles;
//   out {"incoming": {"from": "...", "to": "..."}} for each INVITE that reaches the browser (it is
//       then refused with 486 Busy Here: this page has no media yet);
//   in  "close": the browser quits at once (no unregistration: the connection just drops), and so
//       does this script.
//
// usage: node sip_phone.mjs PAGE_URL WEBSOCKET_URL USER PASSWORD DOMAIN

import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [pageUrl, socketUrl, user, password, domain] = process.argv.slice(2);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/lib/chromium/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
    // The test node's certificate is self-signed.
    '--ignore-certificate-errors',
  ],
});
const page = await browser.newPage();
page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
await page.exposeFunction('report', (message) => say(message));
await page.goto(pageUrl);
await page.addScriptTag({ url: '/assets/jssip.js' });
await page.evaluate(({ socketUrl, user, password, domain }) => {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(socketUrl)],
    uri: `sip:${user}@${domain}`,
    password,
    register: true,
    session_timers: false,
  });
  let settled = false;
  ua.on('registered', () => {
    if (!settled) { settled = true; window.report({ registered: true }); }
  });
  ua.on('registrationFailed', (e) => {
    if (!settled) { settled = true; window.report({ registered: false, cause: String(e.cause) }); }
  });
  ua.on('newRTCSession', ({ originator, session, request }) => {
    if (originator !== 'remote') return;
    window.report({ incoming: { from: request.from.uri.toString(), to: request.to.uri.toString() } });
    session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  });
  ua.start();
  window.ua = ua;
}, { socketUrl, user, password, domain });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'close') break;
}
await browser.close();
process.exit(0);
