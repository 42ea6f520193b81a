// A staff member's browser for the end-to-end tests: headless Chromium (Debian's) with JsSIP as the
// node serves it (/assets/jssip.js), registered over SIP over WebSocket. The Rust test talks to this
// script over stdin/stdout, one JSON object or command per line:
//   out {"registered": true} or {"registered": false, "cause": "..."} once registration settles;
//   out {"incoming": {"from": "...", "to": "..."}} for each INVITE that reaches the browser (refused
//       with 486 Busy Here unless answering is on: see below);
//   in  "autoanswer": from now on incoming calls are answered with the microphone; out
//       {"confirmed": true} when one is up, {"ended": "<cause>"} when it ends;
//   in  "call <uri>": calls with the microphone (Chromium's fake device, or the WAV file named by
//       $FAKE_AUDIO); out {"confirmed": true} when answered, {"failed": "<cause>"} otherwise;
//   in  "listen <hz> <ms>": out {"heard": {"hz": …, "share": …, "samples": …, "rms": …}}, the share of the
//       remote audio's energy at that frequency over the next <ms> ms, read from the received
//       track's PCM (MediaStreamTrackProcessor);
//   in  "dtmf <digits>": sends the keys (JsSIP's default: SIP INFO);
//   in  "codec": out {"codec": "audio/opus"}, the codec of the audio the browser receives (WebRTC
//       statistics of its inbound RTP), or {"codec": null} before any arrived;
//   in  "hangup": ends the call; out {"ended": "<cause>"} when it has;
//   in  "close": the browser quits at once (no unregistration: the connection just drops).
//
// usage: node sip_phone.mjs PAGE_URL WEBSOCKET_URL USER PASSWORD DOMAIN

import { createInterface } from 'node:readline';
import { launch, measureTone } from './chromium.mjs';

const [pageUrl, socketUrl, user, password, domain] = process.argv.slice(2);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const browser = await launch();
const page = await browser.newPage();
page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`[page error] ${e}\n`));
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
  window.autoanswer = false;
  ua.on('newRTCSession', ({ originator, session, request }) => {
    if (originator !== 'remote') return;
    window.report({ incoming: { from: request.from.uri.toString(), to: request.to.uri.toString() } });
    if (!window.autoanswer) {
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    window.session = session;
    session.on('sdp', ({ originator, type, sdp }) => console.log(`${originator} ${type}:\n${sdp}`));
    session.on('confirmed', () => window.report({ confirmed: true }));
    session.on('failed', (e) => window.report({ failed: String(e.cause) }));
    session.on('ended', (e) => window.report({ ended: String(e.cause) }));
    session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [], rtcpMuxPolicy: 'require' },
    });
    const pc = session.connection;
    pc.addEventListener('iceconnectionstatechange', () => console.log(`ice ${pc.iceConnectionState}`));
    pc.addEventListener('connectionstatechange', () => console.log(`connection ${pc.connectionState}`));
  });
  ua.start();
  window.ua = ua;

  // The remote audio, played (Chromium delivers no samples for a track nothing plays) and read.
  window.remoteTrack = () => {
    const pc = window.session?.connection;
    const receiver = pc?.getReceivers().find((r) => r.track?.kind === 'audio');
    return receiver?.track;
  };
  // Chromium delivers no samples for a remote track nothing plays.
  window.playRemote = async () => {
    const track = window.remoteTrack();
    if (!track) return null;
    const audio = document.createElement('audio');
    audio.srcObject = new MediaStream([track]);
    audio.autoplay = true;
    document.body.appendChild(audio);
    await audio.play().catch(() => {});
    return track;
  };
}, { socketUrl, user, password, domain });

for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...rest] = line.trim().split(/\s+/);
  if (command === 'close') break;
  if (command === 'call') {
    await page.evaluate((target) => {
      const session = window.ua.call(target, {
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [], rtcpMuxPolicy: 'require' },
      });
      window.session = session;
      // Connection states go to the log for failure messages.
      const pc = session.connection;
      pc.addEventListener('iceconnectionstatechange', () => console.log(`ice ${pc.iceConnectionState}`));
      pc.addEventListener('connectionstatechange', () => console.log(`connection ${pc.connectionState}`));
      session.on('sdp', ({ originator, type, sdp }) => console.log(`${originator} ${type}:\n${sdp}`));
      session.on('confirmed', () => window.report({ confirmed: true }));
      session.on('failed', (e) => window.report({ failed: String(e.cause) }));
      session.on('ended', (e) => window.report({ ended: String(e.cause) }));
    }, rest[0]);
  } else if (command === 'listen') {
    const track = await page.evaluateHandle(() => window.playRemote());
    const heard = await page.evaluate(measureTone, [track, Number(rest[0]), Number(rest[1])]);
    say({ heard });
  } else if (command === 'dtmf') {
    await page.evaluate((digits) => window.session.sendDTMF(digits), rest[0]);
    say({ sent: rest[0] });
  } else if (command === 'codec') {
    const codec = await page.evaluate(async () => {
      const stats = await window.session?.connection?.getStats();
      if (!stats) return null;
      const inbound = [...stats.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
      return inbound?.codecId ? stats.get(inbound.codecId)?.mimeType ?? null : null;
    });
    say({ codec });
  } else if (command === 'autoanswer') {
    await page.evaluate(() => { window.autoanswer = true; });
    say({ autoanswer: true });
  } else if (command === 'hangup') {
    await page.evaluate(() => window.session?.terminate());
  }
}
await browser.close();
process.exit(0);
