// Shared by the browser scripts: Debian's Chromium launched headless for WebRTC tests, and the
// measurement of a remote audio track's tone.

import { chromium } from 'playwright-core';

/// Headless Chromium with a fake microphone (the WAV file named by $FAKE_AUDIO, if set) and
/// certificate checks off (the test node's certificate is self-signed).
export function launch() {
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
    '--ignore-certificate-errors',
  ];
  if (process.env.FAKE_AUDIO) args.push(`--use-file-for-fake-audio-capture=${process.env.FAKE_AUDIO}`);
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/lib/chromium/chromium',
    headless: true,
    args,
  });
}

/// Runs in the page: reads `track`'s PCM for `ms` milliseconds (MediaStreamTrackProcessor) and
/// returns the share of its energy at `hz` (Goertzel power over total: 1.0 for a pure tone), the
/// number of samples and their RMS.
export async function measureTone([track, hz, ms]) {
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
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1; s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const share = energy > 0 ? (2 * power) / (samples.length * energy) : 0;
  const rms = samples.length > 0 ? Math.sqrt(energy / samples.length) : 0;
  return { hz, share, samples: samples.length, rms };
}
