// A Chromium speaker for tests/integration/test_networks.cpp: Debian's Chromium, started inside
// a network namespace (through `--netns-wrapper`, a script that execs it under `ip netns exec`),
// opens a room page of the web app with a speaker token, speaks a tone from a WAV file (the
// fake microphone) and reports, one line each on stdout:
//   origin-secure <true|false>       whether the page may use the microphone at all
//   pair {json}                      the selected ICE candidate pair, from getStats()
//   connected                        once the WebRTC connection is up
// It stays in the room until the test ends it or --seconds pass.
//
// usage: node network_browser_speaker.mjs --url URL --room ID --token T --wav F.wav
//          --netns-wrapper PATH [--insecure-origin ORIGIN] [--home DIR] [--seconds N]
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';
import { chromiumArgs, keepPeerConnectionsAndRawMicrophone } from '../web/roomcast_fixture.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' }, room: { type: 'string' }, token: { type: 'string' }, wav: { type: 'string' },
    'netns-wrapper': { type: 'string' }, 'insecure-origin': { type: 'string' }, home: { type: 'string' },
    seconds: { type: 'string', default: '120' },
  },
});

const say = (line) => process.stdout.write(line + '\n');
const args = [...chromiumArgs, `--use-file-for-fake-audio-capture=${opt.wav}`];
// Plain HTTP until the server speaks TLS: the page's origin is then declared secure, which
// getUserMedia needs. With TLS, --home is a HOME whose NSS database (.pki/nssdb) trusts the
// test's CA, as a browser trusts an operator's private CA.
if (opt['insecure-origin']) args.push(`--unsafely-treat-insecure-origin-as-secure=${opt['insecure-origin']}`);
const env = opt.home ? { ...process.env, HOME: opt.home } : process.env;
const browser = await chromium.launch({ executablePath: opt['netns-wrapper'], args, env, timeout: 60000 });
const signaling = [];
let finished = false;
async function finish(code) {
  if (finished) return;
  finished = true;
  await browser.close().catch(() => {});
  process.exit(code);
}
setTimeout(() => finish(0), Number(opt.seconds) * 1000);

try {
  const context = await browser.newContext();
  // The speaker's token, where the web app keeps the tokens of this tab.
  await context.addInitScript(({ room, token }) => {
    sessionStorage.setItem(`roomcast.token.${room}`, JSON.stringify({ token, role: 'speaker' }));
  }, { room: opt.room, token: opt.token });
  await context.addInitScript(keepPeerConnectionsAndRawMicrophone);
  const page = await context.newPage();
  // The signaling, kept for the failure message.
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => signaling.push(`> ${String(payload).slice(0, 160)}`));
    ws.on('framereceived', ({ payload }) => signaling.push(`< ${String(payload).slice(0, 160)}`));
  });
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`[page console] ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
  await page.goto(opt.url, { timeout: 60000 });
  say(`origin-secure ${await page.evaluate(() => window.isSecureContext && !!navigator.mediaDevices)}`);
  // Connected: the last peer connection's state (a re-offer makes a new one).
  await page.waitForFunction(() => window.__pcs.length && window.__pcs.at(-1).connectionState === 'connected',
    null, { timeout: 90000, polling: 200 });
  const pair = await page.evaluate(async () => {
    const stats = await window.__pcs.at(-1).getStats();
    let transport = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) transport = s; });
    let selected = transport && stats.get(transport.selectedCandidatePairId);
    if (!selected) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') selected = s; });
    if (!selected) return null;
    const side = (c) => c && { candidateType: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol || '',
      address: c.address, port: c.port };
    return { local: side(stats.get(selected.localCandidateId)), remote: side(stats.get(selected.remoteCandidateId)) };
  });
  say(`pair ${JSON.stringify(pair)}`);
  say('connected');
} catch (error) {
  process.stderr.write(`browser speaker: ${error.message}\n`);
  // What the page and its ICE agent got to, for the test's failure message.
  const page = browser.contexts()[0]?.pages()[0];
  const state = await page?.evaluate(async () => {
    const out = { status: document.getElementById('status')?.textContent, pcs: [] };
    for (const pc of window.__pcs || []) {
      const entry = { connection: pc.connectionState, ice: pc.iceConnectionState, gathering: pc.iceGatheringState,
        config: pc.getConfiguration().iceServers, candidates: [] };
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'local-candidate' || s.type === 'remote-candidate')
          entry.candidates.push(`${s.type} ${s.candidateType} ${s.protocol} ${s.relayProtocol || ''} ${s.address}:${s.port}`);
        if (s.type === 'candidate-pair') entry.candidates.push(`pair ${s.state} nominated=${s.nominated}`);
      });
      out.pcs.push(entry);
    }
    return out;
  }).catch((e) => e.message);
  process.stderr.write(`page state: ${JSON.stringify(state, null, 1)}\nsignaling:\n${signaling.join('\n')}\n`);
  await finish(1);
}
