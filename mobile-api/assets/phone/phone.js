// The browser softphone: JsSIP over secure WebSocket to this node, WebRTC media to its relay. Staff
// sign in with their extension and SIP password (the staff login replaces that later).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { ua: null, session: null, held: false, muted: false };
  window.phone = state;

  const say = (text) => { $('status').textContent = text; };
  const show = (id, visible) => { $(id).hidden = !visible; };
  const pcConfig = { iceServers: [], rtcpMuxPolicy: 'require' };
  const media = { mediaConstraints: { audio: true, video: false }, pcConfig };

  // "Sentralbord · +4764000001" from the display name and P-Called-Party-ID's user part.
  function viaText(name, called) {
    const number = called ? (/sips?:([^@;>]+)/.exec(called) || [])[1] : '';
    return [name, number].filter(Boolean).join(' · ');
  }

  function attachAudio(session) {
    const pc = session.connection;
    if (!pc) return;
    const play = () => {
      const receiver = pc.getReceivers().find((r) => r.track && r.track.kind === 'audio');
      if (receiver) {
        $('remote').srcObject = new MediaStream([receiver.track]);
        $('remote').play().catch(() => {});
      }
    };
    pc.addEventListener('track', play);
    play();
  }

  function callUi(session, peer) {
    state.session = session;
    state.held = false;
    state.muted = false;
    $('peer').textContent = peer;
    $('call-state').textContent = '';
    $('hold').setAttribute('aria-pressed', 'false');
    $('mute').setAttribute('aria-pressed', 'false');
    session.on('confirmed', () => {
      show('incoming', false);
      show('in-call', true);
      say('I samtale / In a call');
      attachAudio(session);
    });
    session.on('ended', () => endUi('Samtalen er avsluttet / Call ended'));
    session.on('failed', (e) => endUi(`Anropet feilet / Call failed: ${e.cause}`));
    session.on('hold', () => { $('call-state').textContent = '(på vent / on hold)'; });
    session.on('unhold', () => { $('call-state').textContent = ''; });
  }

  function endUi(text) {
    state.session = null;
    show('incoming', false);
    show('in-call', false);
    say(text);
  }

  async function config() {
    const resp = await fetch('/phone/config.json');
    return resp.json();
  }

  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const cfg = await config();
    if (!cfg.websocket) { say('Ingen WebSocket på denne noden / No WebSocket on this node'); return; }
    const url = cfg.websocket.replace('{host}', location.hostname);
    const user = $('user').value.trim();
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(url)],
      uri: `sip:${user}@${cfg.domain || location.hostname}`,
      password: $('password').value,
      register: true,
      session_timers: false,
    });
    state.ua = ua;
    say('Logger inn … / Signing in …');
    ua.on('registered', () => { say(`Registrert som / Registered as ${user}`); show('login', false); show('phone', true); });
    ua.on('registrationFailed', (ev) => say(`Innlogging feilet / Sign-in failed: ${ev.cause}`));
    ua.on('disconnected', () => { if (state.ua === ua) say('Frakoblet / Disconnected'); });
    ua.on('newRTCSession', ({ originator, session, request }) => {
      if (originator !== 'remote') return;
      if (state.session) { session.terminate({ status_code: 486, reason_phrase: 'Busy Here' }); return; }
      // Switchboard names the caller's number in From, what the call came through (a queue, a
      // hunt group, a public number's name) as From's display name, and the public number the
      // citizen dialled in P-Called-Party-ID.
      const from = request.from.uri.user;
      const via = viaText(request.from.display_name, request.getHeader('P-Called-Party-ID'));
      $('incoming-from').textContent = from;
      $('incoming-via').textContent = via ? `via ${via}` : '';
      show('incoming-via', Boolean(via));
      show('incoming', true);
      say(`Ringer / Ringing: ${from}${via ? ` (via ${via})` : ''}`);
      callUi(session, via ? `${from} (via ${via})` : from);
    });
    ua.start();
  });

  $('dial').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state.ua || state.session) return;
    const number = $('number').value.trim();
    const session = state.ua.call(`sip:${number}@${state.ua.configuration.uri.host}`, media);
    callUi(session, number);
    say(`Ringer til / Calling ${number} …`);
  });

  $('answer').addEventListener('click', () => state.session && state.session.answer(media));
  $('decline').addEventListener('click', () => state.session && state.session.terminate({ status_code: 486 }));
  $('hangup').addEventListener('click', () => state.session && state.session.terminate());
  $('hold').addEventListener('click', () => {
    if (!state.session) return;
    state.held = !state.held;
    if (state.held) state.session.hold(); else state.session.unhold();
    $('hold').setAttribute('aria-pressed', String(state.held));
  });
  $('mute').addEventListener('click', () => {
    if (!state.session) return;
    state.muted = !state.muted;
    if (state.muted) state.session.mute({ audio: true }); else state.session.unmute({ audio: true });
    $('mute').setAttribute('aria-pressed', String(state.muted));
  });
  $('keypad').addEventListener('click', (e) => {
    if (e.target.tagName === 'BUTTON' && state.session) state.session.sendDTMF(e.target.textContent);
  });
  $('transfer').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state.session) return;
    const target = $('transfer-to').value.trim();
    state.session.refer(`sip:${target}@${state.ua.configuration.uri.host}`);
    say(`Setter over til / Transferring to ${target}`);
  });
  $('sign-out').addEventListener('click', () => {
    if (state.ua) state.ua.stop();
    state.ua = null;
    show('phone', false);
    show('login', true);
    say('Logget ut / Signed out');
  });
})();
