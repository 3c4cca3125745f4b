// The web app's speaker comes back on its own after its connection is cut (issue 22): the
// host's page reaches roomcastd through a loopback TCP forwarder this test cuts (every
// connection closed both ways, as a dead link or a dying node would). The page's RoomSocket
// says hello again with its resume token, and on the new welcome the page must open a new
// WebRTC session (a new RTCPeerConnection, a new offer: a node that took over after a failover
// knows nothing of the old one) that carries audio both ways again: the page hears a CLI
// speaker's 880 Hz, and the CLI hears the page's 660 Hz microphone after the cut.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  startDaemon, runCli, chromiumArgs, writeToneWav, toneLevels, keepPeerConnectionsAndRawMicrophone, createRoomAsHost,
} from './roomcast_fixture.mjs';

const PAGE_HZ = 660;
const CLI_HZ = 880;
let dir;
let daemon;
let browser;
let cli;
let forwarder;

// Loopback TCP to `port`, connection by connection; cut() closes every one of them at once.
async function startForwarder(port) {
  const links = new Set();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    const link = { client, upstream };
    links.add(link);
    const end = () => { client.destroy(); upstream.destroy(); links.delete(link); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      const n = links.size;
      for (const { client, upstream } of [...links]) { client.destroy(); upstream.destroy(); }
      return n;
    },
    close() { this.cut(); server.close(); },
  };
}

// The share of 100 ms pieces of [from, to) s of a mono 16-bit WAV (the CLI's --out) in which
// `freq` is above -30 dB of full scale (one coherent measurement per piece).
function shareWithTone(wavPath, freq, from, to) {
  const data = readFileSync(wavPath);
  const rate = data.readUInt32LE(24);
  const samples = (data.length - 44) / 2;
  let pieces = 0, loud = 0;
  for (let t = from; t + 0.1 <= to; t += 0.1) {
    const a = Math.floor(t * rate), b = Math.min(samples, Math.floor((t + 0.1) * rate));
    if (b - a < rate * 0.05) break;
    let re = 0, im = 0;
    for (let i = a; i < b; i++) {
      const x = data.readInt16LE(44 + 2 * i) / 32768;
      re += x * Math.cos((2 * Math.PI * freq * i) / rate);
      im += x * Math.sin((2 * Math.PI * freq * i) / rate);
    }
    pieces++;
    if (20 * Math.log10((2 * Math.hypot(re, im)) / (b - a) + 1e-12) > -30) loud++;
  }
  return pieces ? loud / pieces : 0;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roomcast-reconnect-'));
  daemon = await startDaemon('[auth]\nopen_rooms = true\n');
  forwarder = await startForwarder(Number(new URL(daemon.url).port));
});

after(async () => {
  cli?.child.kill('SIGTERM');
  await browser?.close().catch(() => {});
  forwarder?.close();
  await daemon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the page renegotiates its WebRTC session after its connection is cut, and is heard again', { timeout: 150000 }, async () => {
  const wav = join(dir, 'tone.wav');
  writeToneWav(wav, PAGE_HZ, 60);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...chromiumArgs, `--use-file-for-fake-audio-capture=${wav}`] });
  const context = await browser.newContext();
  await context.addInitScript(keepPeerConnectionsAndRawMicrophone);
  const page = await context.newPage();
  const received = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => received.push(String(payload))));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${forwarder.url}/`, { timeout: 60000 });
  const room = await page.evaluate(createRoomAsHost, { title: 'Cut', speakerName: 'Cli' });
  await page.goto(`${forwarder.url}/room/${room.id}`, { timeout: 60000 });
  const heardByCli = join(dir, 'cli.wav');
  cli = runCli(['--server', daemon.url, 'speak', room.id, '--token', room.speakerToken, '--tone', String(CLI_HZ),
    '--seconds', '90', '--out', heardByCli]);
  const started = Date.now();

  const state = () => page.evaluate(() => window.__pcs.map((pc) => `${pc.connectionState}/${pc.iceConnectionState}`));
  const connectedSessions = (n) => page.waitForFunction((k) => window.__pcs.length >= k && window.__pcs.at(-1).connectionState === 'connected',
    n, { timeout: 60000, polling: 200 }).catch(async (e) => {
    throw new Error(`no session ${n} connected: ${e.message}; peer connections ${JSON.stringify(await state())}\n` +
      `roomcastd:\n${daemon.log().slice(-3000)}`);
  });
  await connectedSessions(1);
  const welcomes = () => received.filter((m) => m.includes('"type":"welcome"')).length;
  assert.equal(welcomes(), 1);
  let [level] = await toneLevels(page, '#stage-audio', [CLI_HZ]);
  console.log(`before the cut: the CLI's ${CLI_HZ} Hz in the page's return at ${level.toFixed(1)} dB`);

  const sessionsBefore = (await state()).length;
  const cutAt = (Date.now() - started) / 1000;
  assert.ok(forwarder.cut() >= 1, 'the page had no connection through the forwarder');
  await connectedSessions(sessionsBefore + 1);
  const backAt = (Date.now() - started) / 1000;
  assert.equal(welcomes(), 2, 'the page should have said hello again and been welcomed');
  const pcs = await state();
  console.log(`after the cut (at ${cutAt.toFixed(1)} s, a new session connected by ${backAt.toFixed(1)} s): ` +
    `peer connections ${pcs.join(', ')}`);
  assert.notEqual(pcs[sessionsBefore - 1].split('/')[0], 'connected', 'the old session should be closed');

  // Both ways again: the CLI's tone in the page's return, the page's microphone to the CLI.
  await page.waitForFunction(() => document.getElementById('stage-audio').srcObject !== null, null, { timeout: 30000 });
  level = -Infinity;
  for (let i = 0; i < 15 && !(level > -50); i++) [level] = await toneLevels(page, '#stage-audio', [CLI_HZ]);
  console.log(`after the reconnect: the CLI's ${CLI_HZ} Hz in the page's return at ${level.toFixed(1)} dB`);
  assert.ok(level > -50, `the CLI's tone is not in the page's return after the reconnect: ${level.toFixed(1)} dB`);
  await toneLevels(page, '#stage-audio', [CLI_HZ], 6000);  // 6 s more of the room for the CLI to hear
  const hostToken = await page.evaluate((id) => JSON.parse(sessionStorage.getItem(`roomcast.token.${id}`)).token, room.id);
  const ended = await fetch(`${daemon.url}/api/v1/rooms/${room.id}`, {
    method: 'DELETE', headers: { Authorization: `Bearer ${hostToken}` },
  });
  assert.ok(ended.ok, `the room did not end: ${ended.status}`);
  const run = await cli.done;
  assert.equal(run.code, 0, `the CLI failed: ${run.err}`);
  // The CLI's file starts when its session did, a moment (under 3 s) after this test started
  // it: [backAt + 0.5, backAt + 3.5] of the file is after the new session connected and
  // before the room ended, whatever that moment was.
  const share = shareWithTone(heardByCli, PAGE_HZ, backAt + 0.5, backAt + 3.5);
  console.log(`the CLI hears the page's ${PAGE_HZ} Hz in ${(share * 100).toFixed(0)} % of 0.1 s pieces after the reconnect`);
  assert.ok(share >= 0.7, `the CLI does not hear the page after the reconnect (${(share * 100).toFixed(0)} %)`);
});
