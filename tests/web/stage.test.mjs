// The web app end to end, in two real Chromium browsers (each with its own WAV file as the fake
// microphone) against a real roomcastd: the host creates a room and speaks (440 Hz); a
// phone-sized listener hears it over HLS (playback advancing, 440 Hz in what it plays), chats,
// raises a hand (the page pre-warms a WebRTC session without asking for the microphone), is
// promoted (its 660 Hz tone reaches the host over WebRTC, its HLS stops, and only now is the
// microphone asked for, with echo cancellation, noise suppression and auto gain), is muted and
// removed, and both pages show it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, chromiumArgs, buildDir, writeToneWav, toneLevels, hasPlayed } from './roomcast_fixture.mjs';

const HOST_HZ = 440;
const GUEST_HZ = 660;
const artifacts = join(buildDir, 'test-artifacts');
let daemon;
let wavDir;
const browsers = [];

// Records what the page asked getUserMedia for (the product's constraints), then captures with
// the browser's processing off: its noise suppression flattens a steady test tone to about -60 dB.
function recordMicrophoneRequests() {
  window.__microphoneRequests = [];
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => {
    window.__microphoneRequests.push(JSON.parse(JSON.stringify(constraints)));
    return original({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  };
}

async function openBrowser(toneHz, viewport, name) {
  const wav = join(wavDir, `${toneHz}.wav`);
  writeToneWav(wav, toneHz);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...chromiumArgs, `--use-file-for-fake-audio-capture=${wav}`],
  });
  browsers.push(browser);
  const context = await browser.newContext({ viewport });
  await context.addInitScript(recordMicrophoneRequests);
  const page = await context.newPage();
  // What the server sent this page over its room WebSocket.
  page.serverMessages = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    try { page.serverMessages.push(JSON.parse(payload)); } catch { /* not JSON */ }
  }));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[${name} console] ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`[${name} page error] ${e.message}`));
  return page;
}

const microphoneRequests = (page) => page.evaluate(() => window.__microphoneRequests);

// Visible controls that a screen reader could not name (no label, no text, no aria-label).
const unnamedControls = (page) => page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, audio[controls]')]
  .filter((e) => e.checkVisibility())
  .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || (e.tagName === 'BUTTON' && e.textContent.trim())))
  .map((e) => e.outerHTML));

async function waitFor(page, what, fn, arg, timeout = 20000) {
  await page.waitForFunction(fn, arg, { timeout, polling: 100 }).catch(async (error) => {
    const status = await page.evaluate(() => document.getElementById('status')?.textContent);
    throw new Error(`${what}: not within ${timeout} ms (page status: "${status}"): ${error.message}`);
  });
}

// Polls the tone levels in what `selector` plays until `ok(levels)` holds: each poll analyses
// 1.5 s of audio; at most `tries` polls.
async function waitForTones(page, selector, ok, what, tries = 10) {
  let levels;
  for (let i = 0; i < tries; i++) {
    levels = await toneLevels(page, selector, [HOST_HZ, GUEST_HZ]);
    if (ok(levels)) return levels;
  }
  throw new Error(`${what}: levels ${HOST_HZ} Hz ${levels[0].toFixed(1)} dB, ${GUEST_HZ} Hz ${levels[1].toFixed(1)} dB`);
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  wavDir = mkdtempSync(join(tmpdir(), 'roomcast-wav-'));
  daemon = await startDaemon();
});

after(async () => {
  for (const b of browsers) await b.close();
  await daemon?.stop();
  rmSync(wavDir, { recursive: true, force: true });
});

test('host, listener, hand, promotion, mute and removal in two browsers', { timeout: 240000 }, async () => {
  // The host creates a room from the home page and lands on it, on stage.
  const host = await openBrowser(HOST_HZ, { width: 1280, height: 800 }, 'host');
  await host.goto(daemon.url + '/');
  await host.screenshot({ path: join(artifacts, 'app-home-desktop.png'), fullPage: true });
  await host.getByLabel('Title').fill('Morning show');
  await host.getByLabel('Topic').fill('what the web app can do');
  await host.getByLabel('Your name').fill('Ada');
  await host.getByRole('button', { name: 'Create room' }).click();
  await host.waitForURL(/\/room\//, { timeout: 10000 });
  await host.getByRole('heading', { name: 'Morning show' }).waitFor({ timeout: 10000 });
  await waitFor(host, 'host on stage', () => document.getElementById('you').textContent.includes('the host'));
  await waitFor(host, 'host WebRTC return', () => document.getElementById('stage-audio').srcObject !== null);
  const hostAsked = await microphoneRequests(host);
  assert.equal(hostAsked.length, 1, 'the host is on stage: the page asks for the microphone once');
  assert.deepEqual(hostAsked[0].audio, { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 });

  // A phone-sized listener finds the room on the home page and hears it over HLS.
  const guest = await openBrowser(GUEST_HZ, { width: 390, height: 844 }, 'guest');
  await guest.goto(daemon.url + '/');
  await guest.getByLabel('Your name').fill('Grace');
  const link = guest.getByRole('link', { name: /Morning show/ });
  await link.waitFor({ timeout: 10000 });
  assert.match(await link.textContent(), /On stage: Ada \(host\)/, 'the home page names who is on stage');
  await guest.screenshot({ path: join(artifacts, 'app-home-phone.png'), fullPage: true });
  const hlsRequests = [];
  guest.on('request', (r) => { if (r.url().includes('/hls/')) hlsRequests.push({ at: Date.now(), url: r.url() }); });
  await link.click();
  await waitFor(guest, 'HLS playback advancing', hasPlayed, { id: 'player', seconds: 2 }, 40000);
  const heard = await waitForTones(guest, '#player', ([host440, guest660]) => host440 > -50 && host440 - guest660 > 20,
    'the host\'s tone in the listener\'s HLS');
  console.log(`listener HLS: ${HOST_HZ} Hz ${heard[0].toFixed(1)} dB, ${GUEST_HZ} Hz ${heard[1].toFixed(1)} dB`);
  assert.equal((await microphoneRequests(guest)).length, 0, 'a listener is never asked for the microphone');
  await host.getByText('1 listening').waitFor({ timeout: 15000 });

  // Chat: the listener writes, the host reads it.
  await guest.getByLabel('Message', { exact: true }).fill('Hello from the audience');
  await guest.getByRole('button', { name: 'Send' }).click();
  await host.locator('#chat li', { hasText: 'Hello from the audience' }).waitFor({ timeout: 10000 });
  assert.match(await host.locator('#chat li').last().textContent(), /Grace/);

  // Raise hand (by keyboard): the host sees it; the listener's page pre-warms WebRTC without
  // the microphone.
  assert.deepEqual(await unnamedControls(guest), [], 'every control on the listener\'s page has a name');
  await guest.getByRole('button', { name: 'Raise hand' }).focus();
  await guest.keyboard.press('Enter');
  await guest.getByRole('button', { name: 'Lower hand' }).waitFor({ timeout: 10000 });
  const promote = host.getByRole('button', { name: 'Promote Grace' });
  await promote.waitFor({ timeout: 10000 });
  await waitFor(guest, 'pre-warmed WebRTC session', () => {
    const a = document.getElementById('stage-audio');
    return a.srcObject !== null && a.muted && a.srcObject.getAudioTracks().length === 1;
  });
  assert.equal((await microphoneRequests(guest)).length, 0, 'pre-warm does not ask for the microphone');
  assert.equal(await guest.evaluate(() => document.getElementById('player').paused), false, 'HLS plays while pre-warmed');
  await host.screenshot({ path: join(artifacts, 'app-room-desktop.png'), fullPage: true });
  await guest.screenshot({ path: join(artifacts, 'app-room-phone.png'), fullPage: true });

  // Promote: the new speaker's tone reaches the host over WebRTC, the host's own tone is not in
  // the host's return, the listener's HLS stops, and the microphone is asked for only now.
  await promote.click();
  await guest.getByRole('button', { name: 'Mute', exact: true }).waitFor({ timeout: 10000 });
  const live = await waitForTones(host, '#stage-audio', ([own, other]) => other > -50 && other - own >= 30,
    'the promoted speaker in the host\'s return');
  console.log(`host return after promote: own ${HOST_HZ} Hz ${live[0].toFixed(1)} dB, ${GUEST_HZ} Hz ${live[1].toFixed(1)} dB`);
  const guestAsked = await microphoneRequests(guest);
  assert.equal(guestAsked.length, 1);
  assert.deepEqual(guestAsked[0].audio, { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 });
  await waitFor(guest, 'HLS playback stopped', () => {
    const p = document.getElementById('player');
    return p.paused && p.hidden && p.readyState === 0;
  });
  const hlsStoppedAt = Date.now();
  await waitForTones(guest, '#stage-audio', ([h, own]) => h > -50 && h - own >= 30, 'the host in the new speaker\'s return');
  assert.equal(await guest.evaluate(() => document.getElementById('stage-audio').muted), false);
  await host.screenshot({ path: join(artifacts, 'app-room-host-two-speakers-desktop.png'), fullPage: true });
  assert.deepEqual(await unnamedControls(host), [], 'every control on the host\'s page has a name');
  assert.deepEqual(await unnamedControls(guest), [], 'every control on the speaker\'s page has a name');

  // Mute by the host: out of the host's return, and both pages say so.
  await host.getByRole('button', { name: 'Mute Grace' }).click();
  await guest.getByText('The host muted you.').waitFor({ timeout: 10000 });
  await guest.getByRole('button', { name: 'Unmute', exact: true }).waitFor({ timeout: 10000 });
  await host.locator('#stage li', { hasText: 'Grace' }).filter({ hasText: 'muted' }).waitFor({ timeout: 10000 });
  const muted = await waitForTones(host, '#stage-audio', ([, other]) => other < live[1] - 30, 'muted speaker silent');
  console.log(`host return while Grace is muted: ${GUEST_HZ} Hz ${muted[1].toFixed(1)} dB`);
  await host.getByRole('button', { name: 'Unmute Grace' }).click();
  await guest.getByRole('button', { name: 'Mute', exact: true }).waitFor({ timeout: 10000 });
  await waitForTones(host, '#stage-audio', ([, other]) => other > -50, 'unmuted speaker heard again');

  // Self-mute from the speaker's page reaches the host's page.
  await guest.getByRole('button', { name: 'Mute', exact: true }).click();
  await host.getByRole('button', { name: 'Unmute Grace' }).waitFor({ timeout: 10000 });
  await waitForTones(host, '#stage-audio', ([, other]) => other < live[1] - 30, 'self-muted speaker silent');

  // A reload of the speaker's page resumes: same identity (the token is kept in the tab), back
  // on stage with her slot, heard again; the host's page was told she was reconnecting.
  await guest.getByRole('button', { name: 'Unmute', exact: true }).click();
  await host.getByRole('button', { name: 'Mute Grace' }).waitFor({ timeout: 10000 });
  const slotBefore = await host.locator('#stage li .name').allTextContents();
  await guest.reload();
  await guest.getByRole('button', { name: 'Mute', exact: true }).waitFor({ timeout: 15000 });
  await waitForTones(host, '#stage-audio', ([own, other]) => other > -50 && other - own >= 30, 'the resumed speaker heard again');
  assert.deepEqual(await host.locator('#stage li .name').allTextContents(), slotBefore, 'same stage, same order');
  const told = host.serverMessages.map((m) => m.type);
  assert.ok(told.includes('reconnecting') && told.includes('reconnected'), `host told: ${told.join(' ')}`);
  assert.ok(!told.includes('participant-left'), 'a reload within the grace is not a leave');

  // Remove: the speaker's page is told and stops, the host's stage no longer lists her.
  await host.getByRole('button', { name: 'Remove Grace' }).click();
  await guest.getByText('You were removed from the room.').waitFor({ timeout: 10000 });
  await host.locator('#stage li', { hasText: 'Grace' }).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await guest.evaluate(() => document.getElementById('stage-audio').srcObject), null);
  assert.equal(await guest.getByRole('button', { name: 'Raise hand' }).isVisible(), false);

  // After the promotion the page fetched no more HLS (a request in flight may finish).
  assert.ok(hlsRequests.some((r) => r.at < hlsStoppedAt), 'HLS was fetched before');
  const late = hlsRequests.filter((r) => r.at > hlsStoppedAt + 1000);
  assert.deepEqual(late, [], 'no HLS requests after the promotion');
});

test('invitation, reactions, reports, deletion, recording and leave in two browsers', { timeout: 240000 }, async () => {
  const host = await openBrowser(HOST_HZ, { width: 1280, height: 800 }, 'host2');
  await host.goto(daemon.url + '/');
  await host.getByLabel('Title').fill('Second show');
  await host.getByLabel('Your name').fill('Ada');
  await host.getByRole('button', { name: 'Create room' }).click();
  await host.getByRole('heading', { name: 'Second show' }).waitFor({ timeout: 10000 });
  await waitFor(host, 'host on stage', () => document.getElementById('you').textContent.includes('the host'));

  const guest = await openBrowser(GUEST_HZ, { width: 390, height: 844 }, 'guest2');
  await guest.goto(daemon.url + '/');
  await guest.getByLabel('Your name').fill('Alan');
  await guest.goto(host.url());
  await waitFor(guest, 'listening', () => document.getElementById('you').textContent.includes('listening'));

  // Chat by keyboard: the message field, typed, Enter sends.
  await guest.getByLabel('Message', { exact: true }).focus();
  await guest.keyboard.type('Can I ask something?');
  await guest.keyboard.press('Enter');
  const message = host.locator('#chat li', { hasText: 'Can I ask something?' });
  await message.waitFor({ timeout: 10000 });

  // Reactions: three claps and a heart, summed by the server, seen by the host.
  for (const r of ['React clap', 'React clap', 'React clap', 'React heart']) await guest.getByRole('button', { name: r }).click();
  await waitFor(host, 'reaction counts', () => {
    const t = document.getElementById('reaction-counts').textContent;
    return t.includes('👏 3') && t.includes('❤️ 1');
  });

  // A report on the host's page, live.
  await host.getByLabel('Message', { exact: true }).fill('Welcome, everyone');
  await host.getByRole('button', { name: 'Send' }).click();
  await guest.getByRole('button', { name: 'Report message from Ada' }).click();
  await guest.getByLabel('Reason').fill('testing the report button');
  await guest.getByRole('button', { name: 'Send report' }).click();
  await host.locator('#reports li', { hasText: 'testing the report button' }).waitFor({ timeout: 10000 });

  // The host deletes the listener's message: gone on both pages.
  await host.getByRole('button', { name: 'Delete message from Alan' }).click();
  await guest.locator('#chat li', { hasText: 'Can I ask something?' }).waitFor({ state: 'detached', timeout: 10000 });
  await message.waitFor({ state: 'detached', timeout: 10000 });

  // Recording: the host starts it, both pages show it.
  await host.getByRole('button', { name: 'Start recording' }).click();
  await host.locator('#recording-indicator').waitFor({ state: 'visible', timeout: 10000 });
  await guest.locator('#recording-indicator').waitFor({ state: 'visible', timeout: 10000 });

  // Invitation from a chat message: the listener accepts and is on stage (told it is recorded).
  await guest.getByLabel('Message', { exact: true }).fill('Happy to join');
  await guest.getByRole('button', { name: 'Send' }).click();
  await host.getByRole('button', { name: 'Invite Alan to speak' }).click();
  await guest.getByRole('alertdialog').waitFor({ timeout: 10000 });
  assert.equal((await microphoneRequests(guest)).length, 0, 'an invitation alone does not ask for the microphone');
  assert.match(await guest.locator('#invitation-text').textContent(), /being recorded/, 'told before accepting');
  await guest.getByRole('button', { name: 'Accept' }).click();
  await guest.getByRole('button', { name: 'Mute', exact: true }).waitFor({ timeout: 10000 });
  await guest.locator('#status', { hasText: 'your voice is in the recording' }).waitFor({ timeout: 10000 });
  await waitForTones(host, '#stage-audio', ([own, other]) => other > -50 && other - own >= 30, 'the invited speaker in the host\'s return');
  assert.equal((await microphoneRequests(guest)).length, 1);

  // Leave: the speaker goes home; the host's stage drops her.
  await guest.getByRole('button', { name: 'Leave' }).click();
  await guest.waitForURL(daemon.url + '/', { timeout: 10000 });
  await host.locator('#stage li', { hasText: 'Alan' }).waitFor({ state: 'detached', timeout: 10000 });

  // The host ends the room: the page says so.
  await host.getByRole('button', { name: 'End room' }).click();
  await host.getByText('The room has ended.').waitFor({ timeout: 15000 });
});
