// The archive page in a real browser: a recorded room where Grace says a phrase (flite) is
// transcribed; the page lists the recording, a search for a spoken word finds Grace's words,
// and "Play from here" plays the recording from that offset (currentTime starts at the hit
// and advances).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, runCli, chromiumArgs, buildDir, endRoom, phonePage } from './roomcast_fixture.mjs';

let daemon;
let browser;
const artifacts = join(buildDir, 'test-artifacts');

// flite's phrase three times with pauses, then 2 s of silence (the recognizer ends an
// utterance on silence): a 16-bit mono WAV written by hand around flite's samples.
function phraseWav(path, text) {
  const once = `${path}.once.wav`;
  execFileSync('flite', ['-t', text, '-o', once]);
  const wav = readFileSync(once);
  const rate = wav.readUInt32LE(24);
  const dataAt = wav.indexOf('data') + 8;
  const speech = wav.subarray(dataAt);
  const silence = (s) => Buffer.alloc(Math.round(s * rate) * 2);
  const pcm = Buffer.concat([silence(1), speech, silence(1.5), speech, silence(1.5), speech, silence(2)]);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + pcm.length, 4); header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34); header.write('data', 36); header.writeUInt32LE(pcm.length, 40);
  writeFileSync(path, Buffer.concat([header, pcm]));
  return pcm.length / 2 / rate;
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));  // poll a REST answer
  }
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  daemon = await startDaemon('[transcription]\nenabled = true\n');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test('the archive finds what Grace said and plays it from there', { timeout: 120000 }, async () => {
  const created = await (await fetch(`${daemon.url}/api/v1/rooms`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Morning show', record: true }),
  })).json();
  const tokenAnswer = await fetch(`${daemon.url}/api/v1/rooms/${created.id}/tokens`, {
    method: 'POST', headers: { Authorization: `Bearer ${created.host_token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ role: 'speaker', name: 'Grace' }),
  });
  const { token } = await tokenAnswer.json();
  const wav = join(daemon.dataDir, 'grace.wav');
  const seconds = phraseWav(wav, 'good morning everybody');
  const grace = runCli(['--server', daemon.url, 'speak', created.id, '--token', token, '--file', wav,
    '--seconds', String(Math.ceil(seconds + 1))]);
  const hit = await until(async () => {
    const { hits } = await (await fetch(`${daemon.url}/api/v1/recordings?q=morning`)).json();
    return hits.length ? hits[0] : null;
  }, 60000, 'the transcript');
  assert.equal(hit.speaker, 'Grace');
  assert.equal((await grace.done).code, 0);
  assert.equal((await endRoom(daemon, created)).status, 200);

  const page = await phonePage(browser);
  await page.goto(`${daemon.url}/archive`);
  await page.locator('#recordings li', { hasText: 'Morning show' }).waitFor({ timeout: 10000 });
  await page.getByLabel('Find what was said').fill('morning');
  await page.getByRole('button', { name: 'Search' }).click();
  const item = page.locator('#hits li', { hasText: 'Grace' }).first();  // the best hit, as REST ranked it
  await item.waitFor({ timeout: 10000 });
  assert.match(await item.locator('mark').first().textContent(), /morning/);
  await item.getByRole('button', { name: 'Play from here' }).click();
  // Playing from the hit: currentTime starts near its offset and moves on.
  const start = await page.waitForFunction((offset) => {
    const a = document.getElementById('archive-player');
    return !a.paused && a.currentTime >= offset - 0.25 && a.currentTime > 0 ? a.currentTime : false;
  }, hit.offset_s, { timeout: 15000 });
  const from = await start.jsonValue();
  assert.ok(from < hit.offset_s + 1.5, `started at ${from}, the hit is at ${hit.offset_s}`);
  await page.waitForFunction((t) => document.getElementById('archive-player').currentTime > t + 0.5, from,
    { timeout: 10000 });
  await page.screenshot({ path: join(artifacts, 'archive-phone.png'), fullPage: true });
  await page.close();
});
