// The web app retries a WebRTC session that does not get through, on its own (issue 20): the
// host's page opens the room, and its first peer connection can reach nothing (ICE relay-only
// with no TURN server: it gathers no candidate at all, as behind a firewall that drops all UDP).
// roomcastd ends that session at its deadline (ice_deadline_s = 3 here) with `ice_failed`; the
// page must then open a new session without a reload, and that one must carry audio both ways:
// the page hears a CLI speaker's 880 Hz tone and its own microphone's packets flow out.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  startDaemon, runCli, chromiumArgs, writeToneWav, toneLevels, keepPeerConnectionsAndRawMicrophone, createRoomAsHost,
} from './roomcast_fixture.mjs';

const CLI_HZ = 880;
let dir;
let daemon;
let browser;
let cli;

// Runs in the page, after keepPeerConnectionsAndRawMicrophone: the first RTCPeerConnection the
// page makes gets no candidate (relay only, no relay server); later ones are left alone.
function failFirstSession() {
  const Kept = window.RTCPeerConnection;
  let first = true;
  window.RTCPeerConnection = function (config = {}, ...rest) {
    if (first) {
      first = false;
      config = { ...config, iceServers: [], iceTransportPolicy: 'relay' };
    }
    return new Kept(config, ...rest);
  };
  window.RTCPeerConnection.prototype = Kept.prototype;
  Object.assign(window.RTCPeerConnection, Kept);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roomcast-retry-'));
  daemon = await startDaemon('[auth]\nopen_rooms = true\n[media]\nice_deadline_s = 3\n');
});

after(async () => {
  cli?.child.kill('SIGTERM');
  await browser?.close().catch(() => {});
  await daemon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the web app replaces a session that does not connect, and the new one carries audio', { timeout: 150000 }, async () => {
  const wav = join(dir, 'tone.wav');
  writeToneWav(wav, 660);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...chromiumArgs, `--use-file-for-fake-audio-capture=${wav}`] });
  const context = await browser.newContext();
  await context.addInitScript(keepPeerConnectionsAndRawMicrophone);
  await context.addInitScript(failFirstSession);
  const page = await context.newPage();
  const received = [];
  const statuses = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => received.push(String(payload))));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${daemon.url}/`, { timeout: 60000 });
  const room = await page.evaluate(createRoomAsHost, { title: 'Retry', speakerName: 'Cli' });
  // What the page tells its user, as it changes.
  await page.exposeFunction('__status', (text) => statuses.push(text));
  await page.goto(`${daemon.url}/room/${room.id}`, { timeout: 60000 });
  await page.evaluate(() => {
    const status = document.getElementById('status');
    new MutationObserver(() => window.__status(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
  });
  cli = runCli(['--server', daemon.url, 'speak', room.id, '--token', room.speakerToken, '--tone', String(CLI_HZ), '--seconds', '60']);

  const state = () => page.evaluate(() => window.__pcs.map((pc) => `${pc.connectionState}/${pc.iceConnectionState}`));
  await page.waitForFunction(() => window.__pcs.length >= 2 && window.__pcs.at(-1).connectionState === 'connected', null,
    { timeout: 60000, polling: 200 }).catch(async (e) => {
    throw new Error(`no second session connected: ${e.message}; peer connections ${JSON.stringify(await state())}; ` +
      `statuses ${JSON.stringify(statuses)}\nroomcastd:\n${daemon.log().slice(-3000)}`);
  });
  const pcs = await state();
  console.log(`peer connections: ${pcs.join(', ')}; statuses: ${JSON.stringify(statuses)}`);
  assert.ok(received.some((m) => m.includes('"ice_failed"')), 'the server never said ice_failed');
  assert.notEqual(pcs[0].split('/')[0], 'connected', 'the first session connected: nothing was retried');
  assert.ok(statuses.some((s) => /reconnecting \(1 of 3\)/.test(s)), `the page never said it was reconnecting: ${JSON.stringify(statuses)}`);

  // The new session carries audio both ways: the CLI's tone in the page's return, the page's
  // microphone out to the server.
  await page.waitForFunction(() => document.getElementById('stage-audio').srcObject !== null, null, { timeout: 30000 });
  let level;
  for (let i = 0; i < 15 && !(level > -50); i++) [level] = await toneLevels(page, '#stage-audio', [CLI_HZ]);
  const sent = () => page.evaluate(async () => {
    let bytes = 0;
    (await window.__pcs.at(-1).getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') bytes = s.bytesSent; });
    return bytes;
  });
  const before = await sent();
  await page.waitForFunction(async (b) => {
    let bytes = 0;
    (await window.__pcs.at(-1).getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') bytes = s.bytesSent; });
    return bytes > b + 4000;
  }, before, { timeout: 20000, polling: 250 });
  console.log(`after the retry: the CLI's ${CLI_HZ} Hz in the page's return at ${level.toFixed(1)} dB`);
  assert.ok(level > -50, `the CLI's tone is not in the page's return after the retry: ${level.toFixed(1)} dB`);
});
