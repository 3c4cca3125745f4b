// The web page in a real browser: the home page lists a live room, and the room page plays
// its HLS with hls.js (playback time advances while a WebRTC speaker talks), shows who is on
// stage and talking, and counts itself as a listener.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, runCli, chromiumArgs, buildDir, hasPlayed } from './roomcast_fixture.mjs';

let daemon;
let browser;
const artifacts = join(buildDir, 'test-artifacts');

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  daemon = await startDaemon();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test('home lists the room and the room page plays it', { timeout: 90000 }, async () => {
  const response = await fetch(`${daemon.url}/api/v1/rooms`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Browser check', topic: 'hls.js plays the program' }),
  });
  assert.equal(response.status, 201);
  const room = await response.json();
  const speaker = runCli(['--server', daemon.url, 'speak', room.id, '--token', room.host_token, '--tone', '440', '--seconds', '20']);

  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport });
    page.on('console', (m) => console.log(`[${name} console] ${m.type()}: ${m.text()}`));
    page.on('response', (r) => { if (r.status() >= 400) console.log(`[${name}] HTTP ${r.status()} ${r.url()}`); });
    await page.goto(daemon.url + '/');
    const link = page.getByRole('link', { name: /Browser check/ });
    await link.waitFor({ timeout: 10000 });
    await page.screenshot({ path: join(artifacts, `home-${name}.png`), fullPage: true });
    await link.click();
    await page.getByRole('heading', { name: 'Browser check' }).waitFor({ timeout: 10000 });
    // Playback advances: the browser is really decoding the room's audio.
    await page.waitForFunction(hasPlayed, { id: 'player', seconds: 2 }, { timeout: 30000 })
      .catch(async (error) => {
        const why = await page.evaluate(() => ({ status: document.getElementById('status').textContent,
          time: document.getElementById('player').currentTime, ready: document.getElementById('player').readyState }));
        throw new Error(`playback did not advance: ${JSON.stringify(why)}; ${error.message}`);
      });
    const state = await page.evaluate(() => {
      const a = document.getElementById('player');
      return { paused: a.paused, time: a.currentTime, error: a.error && a.error.code };
    });
    assert.equal(state.paused, false);
    assert.equal(state.error, null);
    // The stage, live from the room's WebSocket: the host talking; this page counted.
    await page.locator('#stage li', { hasText: 'Host' }).waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.querySelector('#stage li.speaking') !== null, null, { timeout: 10000 });
    await page.waitForFunction(() => Number(document.getElementById('listener-count').textContent) >= 1, null,
      { timeout: 15000 });
    await page.screenshot({ path: join(artifacts, `room-${name}.png`), fullPage: true });
    await page.close();
  }
  speaker.child.kill('SIGTERM');
  await speaker.done;
});
