// RED (RFC 2198) with browsers: two Chromium speakers in one room, each page as the web app
// makes it (RED preferred). roomcastd and the host's browser run in one network namespace, the
// other speaker's browser in a second one joined to it by a veth pair; once both are connected,
// nftables drops 10 % of that speaker's UDP as the server's namespace takes it in: its uplink
// is lossy, everything else clean. Must hold:
// - RED negotiated both ways: the answers list red (fmtp 111/111) first, and packets carry
//   about two Opus frames each way (Chromium's getStats names only the primary codec);
// - the server's decoder sees few of the losses (/metrics): RED's copies rebuilt the rest;
// - the host hears the lossy speaker's 660 Hz tone continuous (its return recorded in the
//   page, measured by src/audio/continuity.h; the server's decoder rebuilds most single losses
//   from Opus's in-band FEC even without RED, so this part alone passes on the old code too);
// - the host's own receiver (a clean downlink) conceals under 1 % of its samples.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  startDaemon, chromiumArgs, buildDir, writeToneWav, toneLevels, keepPeerConnectionsAndRawMicrophone, createRoomAsHost,
} from './roomcast_fixture.mjs';

const SPEAKER_HZ = 660;
const LOSS_PERCENT = 10;
const RECORD_MS = 12000;
const SERVER_ADDRESS = '10.20.0.1';
const LOSSY_ADDRESS = '10.20.0.2';
const prefix = `rcred${process.pid}`;
const serverNs = `${prefix}s`;
const lossyNs = `${prefix}l`;
let dir;
let daemon;
const browsers = [];
const namespaces = [];

const sh = (...argv) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const inNs = (ns, ...argv) => sh('ip', 'netns', 'exec', ns, ...argv);

// Two namespaces and a veth pair created inside them: nothing of this host's own network changes.
// (Not named veth*: libnice gathers no candidates on interfaces with that prefix.)
function buildLab() {
  for (const ns of [serverNs, lossyNs]) {
    sh('ip', 'netns', 'add', ns);
    namespaces.push(ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  sh('ip', '-n', serverNs, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1', 'netns', lossyNs);
  sh('ip', '-n', serverNs, 'addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', 'up0');
  sh('ip', '-n', lossyNs, 'addr', 'add', `${LOSSY_ADDRESS}/24`, 'dev', 'up1');
  sh('ip', '-n', serverNs, 'link', 'set', 'up0', 'up');
  sh('ip', '-n', lossyNs, 'link', 'set', 'up1', 'up');
  // Counts every UDP datagram the lossy side sends to the server, where the server's namespace
  // takes it in; the drop rule comes later. Not in the sender's output path: a datagram
  // dropped there fails the sender's sendmsg (EPERM), and Chromium then sends it again (at
  // 10 % dropped there, the server's jitter buffer saw under 2 % lost).
  execFileSync('ip', ['netns', 'exec', serverNs, 'nft', '-f', '-'], {
    input: `table inet roomcast_loss {
  chain in {
    type filter hook input priority 0; policy accept;
    ip saddr ${LOSSY_ADDRESS} meta l4proto udp counter
  }
}\n`,
  });
}

function startLoss() {
  inNs(serverNs, 'nft', 'add', 'rule', 'inet', 'roomcast_loss', 'in', 'ip', 'saddr', LOSSY_ADDRESS, 'meta', 'l4proto',
    'udp', 'numgen', 'random', 'mod', '100', '<', String(LOSS_PERCENT), 'counter', 'drop');
}

// [sent, dropped] packet counts of the two rules.
function lossCounters() {
  const counts = [...inNs(serverNs, 'nft', 'list', 'table', 'inet', 'roomcast_loss').matchAll(/packets (\d+)/g)].map((m) => Number(m[1]));
  return [counts[0] || 0, counts[1] || 0];
}

async function openBrowser(ns, wav, name) {
  const wrapper = join(dir, `chromium-${name}`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await chromium.launch({
    executablePath: wrapper, timeout: 60000,
    // Plain HTTP on a non-loopback address: declared a secure origin, which the microphone needs.
    args: [...chromiumArgs, `--use-file-for-fake-audio-capture=${wav}`,
      `--unsafely-treat-insecure-origin-as-secure=${daemon.url}`],
  });
  browsers.push(browser);
  const context = await browser.newContext();
  await context.addInitScript(keepPeerConnectionsAndRawMicrophone);
  const page = await context.newPage();
  // The signaling, for a failure message.
  page.signaling = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => page.signaling.push(`> ${String(payload).slice(0, 200)}`));
    ws.on('framereceived', ({ payload }) => page.signaling.push(`< ${String(payload).slice(0, 200)}`));
  });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[${name} console] ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`[${name} page error] ${e.message}`));
  return page;
}

const connected = (page, what) => page.waitForFunction(
  () => window.__pcs.length && window.__pcs.at(-1).connectionState === 'connected', null, { timeout: 60000, polling: 200 })
  .catch(async (e) => {
    const state = await page.evaluate(() => ({
      status: document.getElementById('status')?.textContent,
      pcs: window.__pcs.map((pc) => `${pc.connectionState}/${pc.iceConnectionState}`),
    })).catch((err) => err.message);
    throw new Error(`${what} did not connect: ${e.message}; page: ${JSON.stringify(state)}\nsignaling:\n${page.signaling.join('\n')}\nroomcastd:\n${daemon.log().slice(-3000)}`);
  });

// The page's last peer connection: its outbound and inbound audio counters.
const rtpStats = (page) => page.evaluate(async () => {
  const stats = await window.__pcs.at(-1).getStats();
  const out = {};
  stats.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'audio') Object.assign(out, { bytesSent: s.bytesSent, packetsSent: s.packetsSent });
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.bytesReceived = s.bytesReceived;
      out.packetsReceived = s.packetsReceived;
      out.concealedSamples = s.concealedSamples;
      out.totalSamplesReceived = s.totalSamplesReceived;
      out.packetsLost = s.packetsLost;
    }
  });
  return out;
});

// Records `ms` of what the <audio> element `selector` receives (its MediaStream), as 16-bit mono
// PCM in base64, and the context's rate. A ScriptProcessor: the page's CSP allows no worklet
// from a blob.
const recordReturn = (page, selector, ms) => page.evaluate(async ({ selector, ms }) => {
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(document.querySelector(selector).srcObject);
  const tap = ctx.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  tap.onaudioprocess = (e) => chunks.push(e.inputBuffer.getChannelData(0).slice());
  const mute = ctx.createGain();
  mute.gain.value = 0;
  source.connect(tap).connect(mute).connect(ctx.destination);
  await new Promise((r) => setTimeout(r, ms));
  source.disconnect();
  tap.disconnect();
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const pcm = new Int16Array(n);
  let i = 0;
  for (const c of chunks) for (const v of c) pcm[i++] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
  const bytes = new Uint8Array(pcm.buffer);
  let text = '';
  for (let k = 0; k < bytes.length; k += 0x8000) text += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  const rate = ctx.sampleRate;
  await ctx.close();
  return { rate, pcm: btoa(text) };
}, { selector, ms });

// The server's uplink loss counters (/metrics, public with [archive] public = true): lost spans
// that reached a speaker's Opus decoder, rebuilt from the next packet's FEC or concealed.
const decoderLosses = (page) => page.evaluate(async () => {
  const text = await (await fetch('/metrics')).text();
  const value = (name) => Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
  return value('roomcast_uplink_losses_rebuilt') + value('roomcast_uplink_losses_concealed');
});

function writeWav(path, rate, pcm) {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + pcm.length, 4); header.write('WAVE', 8);
  header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34);
  header.write('data', 36); header.writeUInt32LE(pcm.length, 40);
  writeFileSync(path, Buffer.concat([header, pcm]));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roomcast-red-'));
  buildLab();
  daemon = await startDaemon('[auth]\nopen_rooms = true\n[archive]\npublic = true\n', { prefix: ['ip', 'netns', 'exec', serverNs], address: SERVER_ADDRESS });
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  // The daemon's log (GST_DEBUG output too), for a look at what rtpreddec and the jitter buffer did.
  if (process.env.ROOMCAST_RED_DAEMON_LOG) writeFileSync(process.env.ROOMCAST_RED_DAEMON_LOG, daemon.log());
  await daemon?.stop();
  for (const ns of namespaces) { try { sh('ip', 'netns', 'del', ns); } catch { /* already gone */ } }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a speaker on a 10 % lossy uplink is heard continuous through RED', { timeout: 200000 }, async () => {
  const silence = join(dir, 'silence.wav');
  writeToneWav(silence, 0);  // a sine at 0 Hz: the host says nothing, its return is the other speaker alone
  const toneWav = join(dir, 'tone.wav');
  writeToneWav(toneWav, SPEAKER_HZ);

  // The host (with the server) creates the room and a speaker token for the lossy browser.
  const host = await openBrowser(serverNs, silence, 'host');
  await host.goto(`${daemon.url}/`, { timeout: 60000 });
  const room = await host.evaluate(createRoomAsHost, { title: 'Lossy uplink', speakerName: 'Lossy' });
  await host.goto(`${daemon.url}/room/${room.id}`, { timeout: 60000 });

  const speaker = await openBrowser(lossyNs, toneWav, 'speaker');
  await speaker.context().addInitScript(({ id, token }) => {
    sessionStorage.setItem(`roomcast.token.${id}`, JSON.stringify({ token, role: 'speaker' }));
  }, { id: room.id, token: room.speakerToken });
  await speaker.goto(`${daemon.url}/room/${room.id}`, { timeout: 60000 });
  await connected(host, 'the host');
  await connected(speaker, 'the lossy speaker');

  // RED both ways: what the speaker sends and what the host receives.
  await host.waitForFunction(() => document.getElementById('stage-audio').srcObject !== null, null, { timeout: 30000 });
  let levels;
  for (let i = 0; i < 15 && !(levels?.[0] > -50); i++) levels = await toneLevels(host, '#stage-audio', [SPEAKER_HZ]);
  assert.ok(levels[0] > -50, `the speaker's tone in the host's return before any loss: ${levels[0].toFixed(1)} dB`);
  // RED both ways, as the answer says it (red first: Chromium sends RED only then) and as the
  // packets show it: Chromium's getStats names the primary codec only, but each RED packet
  // carries the previous frame again, about twice an Opus frame's bytes.
  const problems = [];
  const check = (ok, message) => { if (!ok) problems.push(message); };
  for (const [page, name] of [[host, 'host'], [speaker, 'speaker']]) {
    const answer = await page.evaluate(() => window.__pcs.at(-1).remoteDescription.sdp);
    const formats = answer.match(/^m=audio \S+ \S+ (.*)$/m)?.[1].trim().split(' ') || [];
    const redPt = answer.match(/^a=rtpmap:(\d+) red\/48000\/2/mi)?.[1];
    const opusPt = answer.match(/^a=rtpmap:(\d+) opus\//mi)?.[1];
    console.log(`${name}'s answer: m=audio formats ${formats.join(' ')}, red ${redPt}, opus ${opusPt}`);
    check(redPt && formats[0] === redPt && new RegExp(`^a=fmtp:${redPt} ${opusPt}/${opusPt}`, 'm').test(answer),
      `${name}: the answer has no RED for Opus first (formats ${formats.join(' ')})`);
  }
  const speakerBefore = await rtpStats(speaker);
  const hostBefore = await rtpStats(host);

  // 10 % of the speaker's uplink dropped; the host's return recorded meanwhile.
  startLoss();
  const [sentBefore, droppedBefore] = lossCounters();
  const decoderBefore = await decoderLosses(host);
  const recorded = await recordReturn(host, '#stage-audio', RECORD_MS);
  const [sentAfter, droppedAfter] = lossCounters();
  const decoderLost = await decoderLosses(host) - decoderBefore;
  const hostAfter = await rtpStats(host);
  const speakerAfter = await rtpStats(speaker);
  const opusFrameBytes = 32000 / 8 * 0.02;  // the browser's and the server's Opus at 32 kb/s
  const perPacket = (after, before, bytes, packets) => (after[bytes] - before[bytes]) / (after[packets] - before[packets]);
  const upBytes = perPacket(speakerAfter, speakerBefore, 'bytesSent', 'packetsSent');
  const downBytes = perPacket(hostAfter, hostBefore, 'bytesReceived', 'packetsReceived');
  console.log(`payload per packet: speaker sends ${upBytes.toFixed(0)} B, host receives ${downBytes.toFixed(0)} B ` +
    `(one Opus frame at 32 kb/s: ${opusFrameBytes} B)`);
  check(upBytes > 1.5 * opusFrameBytes, `the speaker's packets carry one frame (${upBytes.toFixed(0)} B): no RED up`);
  check(downBytes > 1.5 * opusFrameBytes, `the host's packets carry one frame (${downBytes.toFixed(0)} B): no RED down`);
  const sent = sentAfter - sentBefore;
  const lossRate = (droppedAfter - droppedBefore) / sent;
  console.log(`uplink: ${sent} UDP datagrams, ${droppedAfter - droppedBefore} dropped (${(100 * lossRate).toFixed(1)} %)`);
  check(sent > 400, `the speaker kept sending (${sent} datagrams in ${RECORD_MS} ms)`);
  check(lossRate > 0.07 && lossRate < 0.13, `effective loss ${(100 * lossRate).toFixed(1)} %`);
  // RED gives back every loss but two in a row (about one in ten of them at 10 %): the decoder
  // sees those only. Without RED it sees every lost audio packet.
  const dropped = droppedAfter - droppedBefore;
  console.log(`lost spans that reached the server's decoder: ${decoderLost} (datagrams dropped: ${dropped})`);
  check(decoderLost < 0.3 * dropped, `the server's decoder saw ${decoderLost} losses of ${dropped} dropped datagrams: RED gave none back`);

  const wav = join(buildDir, 'test-artifacts', 'red-host-return.wav');
  mkdirSync(join(buildDir, 'test-artifacts'), { recursive: true });
  writeWav(wav, recorded.rate, Buffer.from(recorded.pcm, 'base64'));
  const c = JSON.parse(execFileSync(join(buildDir, 'tests/web/measure_continuity'), [wav], { encoding: 'utf8' }));
  const concealed = hostAfter.concealedSamples - hostBefore.concealedSamples;
  const received = hostAfter.totalSamplesReceived - hostBefore.totalSamplesReceived;
  console.log(`host's return under loss: continuity ${(100 * c.continuous).toFixed(1)} %, within 1 dB ` +
    `${(100 * c.intact).toFixed(1)} %, ${c.quiet} quiet of ${c.windows} windows, median ${c.medianDbfs} dBFS; ` +
    `concealed ${concealed} of ${received} samples (${(100 * concealed / received).toFixed(2)} %)`);
  check(c.windows > 0.8 * RECORD_MS / 20, `the tone did not fill the recording (${c.windows} windows)`);
  check(c.continuous >= 0.97, `the lossy speaker was not heard continuous: ${(100 * c.continuous).toFixed(1)} % of windows`);
  // Not asserted, only logged: windows within 1 dB. It tells RED from in-band FEC (95.1-95.3 %
  // without RED, 97.0-99.7 % with, in our runs), but not reliably enough on a loaded machine
  // (97.2 % once without RED, 97.0 % once with). What tells them apart every time is the
  // decoder's losses above.
  check(received > 0 && concealed / received < 0.01, `the host concealed ${concealed} of ${received} samples`);
  assert.deepEqual(problems, []);
});
