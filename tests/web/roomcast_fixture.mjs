// Test fixture for browser tests: roomcastd on a free loopback port with a temporary data dir,
// and a headless Debian Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export const buildDir = process.env.ROOMCAST_BUILD_DIR;
export const sourceDir = process.env.ROOMCAST_SOURCE_DIR;

// A TCP port free on 127.0.0.1 now (for a server started next).
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// `config`: the text of a roomcast.conf for this daemon (none by default). `prefix`: argv
// that runs it elsewhere (e.g. ip netns exec NS), `address`: where it listens then (port 8080,
// the namespace's own).
export async function startDaemon(config = null, { prefix = [], address = null } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'roomcast-web-'));
  const port = address ? 8080 : await freePort();
  const host = address || '127.0.0.1';
  const args = ['--listen', `${host}:${port}`, '--data-dir', dataDir];
  if (config) {
    writeFileSync(join(dataDir, 'roomcast.conf'), config);
    args.push('--config', join(dataDir, 'roomcast.conf'));
  }
  const argv = [...prefix, join(buildDir, 'src/app/roomcastd'), ...args];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`roomcastd exited (${code}): ${log}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20000);
  await ready;
  clearTimeout(timeout);
  const url = `http://${host}:${port}`;
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await once(child, 'exit');
        clearTimeout(killer);
      }
      if (!process.env.ROOMCAST_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function runCli(args) {
  const child = spawn(join(buildDir, 'src/client/roomcast'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const done = new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
  return { child, done };
}

// Ends a room as its host does; the answer comes once ENDLIST and the recording are written.
export async function endRoom(daemon, created) {
  return fetch(`${daemon.url}/api/v1/rooms/${created.id}`, {
    method: 'DELETE', headers: { Authorization: `Bearer ${created.host_token}` },
  });
}

// A phone-sized page whose console goes to the test's log.
export async function phonePage(browser) {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on('console', (m) => console.log(`[console] ${m.type()}: ${m.text()}`));
  return page;
}

// For context.addInitScript: every RTCPeerConnection the page makes is kept in window.__pcs
// (for getStats()), and the microphone comes without the browser's processing (its noise
// suppression flattens a steady test tone). Runs in the page, so it uses nothing from here.
export function keepPeerConnectionsAndRawMicrophone() {
  window.__pcs = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) { const pc = new Native(...a); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.assign(window.RTCPeerConnection, Native);
  const md = navigator.mediaDevices;
  if (md) {
    const original = md.getUserMedia.bind(md);
    md.getUserMedia = () => original({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  }
}

// For page.evaluate(createRoomAsHost, { title, speakerName }) on a page of the server: creates
// a room as its host Ada would, keeps the host's token where the web app looks for it, and
// issues a speaker token for `speakerName`. Returns { id, speakerToken }. Runs in the page, so
// it uses nothing from here.
export async function createRoomAsHost({ title, speakerName }) {
  const post = async (url, body, token) => {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const created = await post('/api/v1/rooms', { title, host_name: 'Ada' });
  const issued = await post(`/api/v1/rooms/${created.id}/tokens`, { role: 'speaker', name: speakerName }, created.host_token);
  sessionStorage.setItem(`roomcast.token.${created.id}`, JSON.stringify({ token: created.host_token, role: 'host' }));
  return { id: created.id, speakerToken: issued.token };
}

// For page.waitForFunction(hasPlayed, { id, seconds }): true once the <audio> element `id` has
// really played more than `seconds` (the sum of its played ranges). currentTime is not enough:
// hls.js moves it to the live edge by seeking, before anything plays.
export function hasPlayed({ id, seconds }) {
  const ranges = document.getElementById(id).played;
  let total = 0;
  for (let i = 0; i < ranges.length; i++) total += ranges.end(i) - ranges.start(i);
  return total > seconds;
}

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  // Pages that have not asked for the microphone would send mDNS candidates that libnice cannot resolve.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

// A mono 16-bit 48 kHz WAV of a sine at `freq` Hz (amplitude 0.3 of full scale): Chromium loops
// it as the fake microphone (--use-file-for-fake-audio-capture).
export function writeToneWav(path, freq, seconds = 10) {
  const rate = 48000;
  const n = rate * seconds;
  const data = Buffer.alloc(44 + n * 2);
  data.write('RIFF', 0); data.writeUInt32LE(36 + n * 2, 4); data.write('WAVE', 8);
  data.write('fmt ', 12); data.writeUInt32LE(16, 16); data.writeUInt16LE(1, 20); data.writeUInt16LE(1, 22);
  data.writeUInt32LE(rate, 24); data.writeUInt32LE(rate * 2, 28); data.writeUInt16LE(2, 32); data.writeUInt16LE(16, 34);
  data.write('data', 36); data.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  writeFileSync(path, data);
}

// Runs in the page: how loud the tones at `freqs` (Hz) are in what the <audio> element at
// `selector` plays (its WebRTC MediaStream, or its own output for HLS), in dB of the analyser's
// spectrum, averaged over `ms`. The caller compares them: tone present, tone absent.
export async function toneLevels(page, selector, freqs, ms = 1500) {
  return page.evaluate(async ({ selector, freqs, ms }) => {
    const el = document.querySelector(selector);
    window.__toneContext ||= new AudioContext();
    const ctx = window.__toneContext;
    await ctx.resume();
    let source;
    if (el.srcObject) {
      source = ctx.createMediaStreamSource(el.srcObject);
    } else {
      // An element can feed one MediaElementSource in its life; it then plays through it.
      if (!el.__toneSource) {
        el.__toneSource = ctx.createMediaElementSource(el);
        el.__toneSource.connect(ctx.destination);
      }
      source = el.__toneSource;
    }
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 16384;
    analyser.smoothingTimeConstant = 0;
    const sink = ctx.createGain();
    sink.gain.value = 0;
    source.connect(analyser);
    analyser.connect(sink);
    sink.connect(ctx.destination);
    const bins = new Float32Array(analyser.frequencyBinCount);
    const hz = ctx.sampleRate / analyser.fftSize;
    const sums = freqs.map(() => 0);
    let frames = 0;
    const until = performance.now() + ms;
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(bins);
      freqs.forEach((f, i) => {
        let peak = -Infinity;
        for (let b = Math.floor((f - 10) / hz); b <= Math.ceil((f + 10) / hz); b++) peak = Math.max(peak, bins[b]);
        sums[i] += 10 ** (Math.max(peak, -200) / 10);
      });
      frames++;
    }
    source.disconnect(analyser);
    analyser.disconnect();
    sink.disconnect();
    return sums.map((s) => 10 * Math.log10(s / frames));
  }, { selector, freqs, ms });
}
