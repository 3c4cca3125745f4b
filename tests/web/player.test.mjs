// The room page's player (data/web/player.js, hls.js in Debian's Chromium) in a room's first
// seconds, when its playlists are short or not there yet:
// - playback starts with at least PLAY_AHEAD_S (1.75 s) of audio buffered, not on the first
//   segment;
// - a rendition whose playlist failed once is tried again: a listener whose first request for
//   the main playlist got a 404 (before the room's first segment, or from an edge) ends up on
//   the main rendition, not on the 24 kbps one for as long as they stay.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startDaemon, runCli, chromiumArgs } from './roomcast_fixture.mjs';

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test('a listener who opens a room in its first second gets a margin and the main rendition', { timeout: 120000 },
  async () => {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`[console] ${m.text()}`); });
    // What the <audio> element held when it began to play (media events do not bubble, but a
    // capturing listener on the document sees them).
    await page.addInitScript(() => {
      window.firstPlaying = null;
      document.addEventListener('playing', (event) => {
        const a = event.target;
        if (window.firstPlaying !== null || a.id !== 'player') return;
        const b = a.buffered;
        window.firstPlaying = { at: a.currentTime, ahead: b.length ? b.end(b.length - 1) - a.currentTime : 0 };
      }, true);
    });
    // The first request for the main playlist fails, as it does when the page opens before the
    // room's first segment.
    let refused = 0;
    await page.route(/\/index\.m3u8(\?|$)/, (route) => {
      if (refused < 1) {
        refused++;
        return route.fulfill({ status: 404, contentType: 'text/plain', body: 'no segment yet\n' });
      }
      return route.continue();
    });

    const created = await fetch(`${daemon.url}/api/v1/rooms`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'First second', topic: 'the player in a room that has just opened' }),
    });
    assert.equal(created.status, 201);
    const room = await created.json();
    const speaker = runCli(['--server', daemon.url, 'speak', room.id, '--token', room.host_token, '--tone', '440',
      '--seconds', '60']);
    try {
      await page.goto(`${daemon.url}/room/${encodeURIComponent(room.id)}`);
      await page.waitForFunction(() => window.firstPlaying !== null, null, { timeout: 30000 });
      const first = await page.evaluate(() => window.firstPlaying);
      console.log(`began playing at ${first.at.toFixed(2)} s with ${first.ahead.toFixed(2)} s buffered ahead`);
      assert.ok(first.ahead >= 1.7, `began playing with ${first.ahead.toFixed(2)} s buffered (want >= 1.7 s)`);
      assert.equal(refused, 1, 'the main playlist was refused');

      // hls.js went to the low rendition after the 404; it must come back to main (the penalty
      // expires after 10 s) and play its segments.
      const mainSegments = [];
      await page.waitForResponse((response) => {
        const name = new URL(response.url()).pathname.split('/').pop();
        if (/^segment\d+\.ts$/.test(name) && response.status() === 200) mainSegments.push(name);
        return mainSegments.length >= 3;
      }, { timeout: 45000 }).catch((error) => {
        throw new Error(`three main-rendition segments after the 404: ${error.message}`);
      });
      const state = await page.evaluate(() => {
        const a = document.getElementById('player');
        return { paused: a.paused, time: a.currentTime, error: a.error && a.error.code };
      });
      assert.equal(state.paused, false);
      assert.equal(state.error, null);
      console.log(`main-rendition segments after the 404: ${mainSegments.slice(0, 3).join(', ')}; played ${state.time.toFixed(1)} s`);
    } finally {
      await page.close();
      speaker.child.kill('SIGTERM');
      await speaker.done;
    }
  });
