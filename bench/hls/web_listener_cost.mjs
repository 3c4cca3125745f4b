// bench-hls-web-cost: what one listener on the web page costs per hour, the page's own player
// (hls.js in Debian's Chromium, driven by playwright-core), for each segment length.
//
// bench-hls-cost measures `roomcast listen` (hlsdemux), which refreshes the playlist once a
// target duration. hls.js refreshes it once per segment near the live edge, so with short
// segments a web listener costs the edge more requests. This program counts them.
//
// For each --segment-ms value: roomcastd with `[hls] segment_ms`, a room, a WebRTC speaker
// sending a tone, and the room page in Chromium. Once playback has advanced 2 s and a settle
// time has passed, every request the page makes in the window is counted, by kind
// (playlist, segment, other), with its bytes on the wire (headers and body, playwright's
// request.sizes()). "fetches/h" counts bursts (a request that starts more than 200 ms after
// the previous one ended), the proxy for radio wake-ups that bench-hls-cost also uses. The
// window also checks that the player kept up: playback time advanced by the window's length
// without stalls ("waiting" events), and how much audio it held buffered at the end.
//
// Prints a table and writes JSON (--json FILE). Run through meson (sets the paths):
//   meson test -C build --benchmark --suite bench -v hls-web-cost
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startDaemon, runCli, chromiumArgs, hasPlayed } from '../../tests/web/roomcast_fixture.mjs';

function usage(out) {
  out.write('usage: bench-hls-web-cost [--seconds S (60)] [--settle S (5)] [--segment-ms 500,750,1000] [--json FILE]\n');
}

const options = { seconds: 60, settle: 5, segmentMs: [500, 750, 1000], json: 'bench-hls-web-cost.json' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i];
  const value = () => {
    if (i + 1 >= argv.length) {
      usage(process.stderr);
      process.exit(1);
    }
    return argv[++i];
  };
  if (flag === '--seconds') options.seconds = Number(value());
  else if (flag === '--settle') options.settle = Number(value());
  else if (flag === '--segment-ms') options.segmentMs = value().split(',').map(Number);
  else if (flag === '--json') options.json = value();
  else if (flag === '--help' || flag === '-h') {
    usage(process.stdout);
    process.exit(0);
  } else {
    usage(process.stderr);
    process.exit(1);
  }
}
const positive = (v) => Number.isFinite(v) && v > 0;
if (!positive(options.seconds) || !(options.settle >= 0) || !options.segmentMs.every((v) => v >= 250 && v <= 1000)) {
  process.stderr.write('bench-hls-web-cost: --seconds must be > 0, --settle >= 0, --segment-ms 250..1000\n');
  process.exit(1);
}

const kindOf = (url) => (/\.m3u8(\?|$)/.test(url) ? 'playlist' : /\.ts(\?|$)/.test(url) ? 'segment' : 'other');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(browser, segmentMs) {
  const daemon = await startDaemon(`[hls]\nsegment_ms = ${segmentMs}\n`);
  let speaker = null;
  let page = null;
  try {
    const created = await fetch(`${daemon.url}/api/v1/rooms`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Web listener cost', topic: `segment_ms ${segmentMs}` }),
    });
    if (created.status !== 201) throw new Error(`POST /api/v1/rooms: HTTP ${created.status}`);
    const room = await created.json();
    const talkSeconds = options.seconds + options.settle + 60;  // outlasts the page's start-up
    speaker = runCli(['--server', daemon.url, 'speak', room.id, '--token', room.host_token, '--tone', '440',
      '--seconds', String(talkSeconds)]);

    page = await browser.newPage();
    const requests = [];  // every request the page made: start, end, url, bytes
    const entries = new Map();  // playwright Request -> its entry in `requests`
    page.on('request', (request) => {
      const entry = { request, start: Date.now(), end: null, bytes: 0, failed: false };
      entry.settled = new Promise((resolve) => { entry.settle = resolve; });  // finished with sizes, or failed
      requests.push(entry);
      entries.set(request, entry);
    });
    const entryOf = (request) => entries.get(request);
    page.on('requestfinished', async (request) => {
      const entry = entryOf(request);
      if (!entry) return;
      entry.end = Date.now();
      const sizes = await request.sizes().catch(() => null);
      if (sizes) {
        entry.bytes = sizes.responseHeadersSize + Math.max(0, sizes.responseBodySize);
        entry.up = sizes.requestHeadersSize + Math.max(0, sizes.requestBodySize);
      }
      entry.settle();
    });
    page.on('requestfailed', (request) => {
      const entry = entryOf(request);
      if (entry) {
        entry.end = Date.now();
        entry.failed = true;
        entry.settle();
      }
    });
    await page.goto(`${daemon.url}/room/${encodeURIComponent(room.id)}`);
    await page.waitForFunction(hasPlayed, { id: 'player', seconds: 2 }, { timeout: 30000 });
    await sleep(options.settle * 1000);

    const playback = () => page.evaluate(() => document.getElementById('player').currentTime);
    await page.evaluate(() => {
      window.benchStalls = 0;  // the player ran out of audio ("waiting") during the window
      document.getElementById('player').addEventListener('waiting', () => window.benchStalls++);
    });
    const t0 = Date.now();
    const played0 = await playback();
    await sleep(options.seconds * 1000);
    const t1 = Date.now();
    const played1 = await playback();
    const stalls = await page.evaluate(() => window.benchStalls);
    const buffered = await page.evaluate(() => {
      const a = document.getElementById('player');
      return a.buffered.length ? a.buffered.end(a.buffered.length - 1) - a.currentTime : null;
    });
    // The window's last requests finish (and report their sizes) after it: wait for them, 5 s at most.
    const windowEntries = requests.filter((r) => r.start >= t0 && r.start < t1);
    await Promise.race([Promise.all(windowEntries.map((r) => r.settled)), sleep(5000)]);

    const inWindow = windowEntries.map((r) => ({ ...r, url: r.request.url() }));
    const windowS = (t1 - t0) / 1000;
    const perHour = (n) => (n / windowS) * 3600;
    const kinds = {};
    for (const kind of ['playlist', 'segment', 'other']) {
      const these = inWindow.filter((r) => kindOf(r.url) === kind);
      kinds[kind] = { requests: these.length, per_s: these.length / windowS, bytes_down: these.reduce((s, r) => s + r.bytes, 0) };
    }
    // Bursts: a request that starts more than 200 ms after the previous one ended.
    let fetches = 0;
    let lastEnd = -Infinity;
    for (const r of [...inWindow].sort((a, b) => a.start - b.start)) {
      if (r.start - lastEnd > 200) fetches++;
      lastEnd = Math.max(lastEnd, r.end ?? r.start);
    }
    const renditions = [...new Set(inWindow.filter((r) => kindOf(r.url) === 'playlist')
      .map((r) => new URL(r.url).pathname.split('/').pop()))];
    const bytesDown = inWindow.reduce((s, r) => s + r.bytes, 0);
    const bytesUp = inWindow.reduce((s, r) => s + (r.up ?? 0), 0);
    return {
      segment_ms: segmentMs,
      window_s: windowS,
      playlists: renditions,
      requests: inWindow.length,
      failed: inWindow.filter((r) => r.failed || r.end === null).length,
      per_kind: kinds,
      requests_per_hour: perHour(inWindow.length),
      playlist_per_hour: perHour(kinds.playlist.requests),
      segment_per_hour: perHour(kinds.segment.requests),
      fetches_per_hour: perHour(fetches),
      mb_down_per_hour: perHour(bytesDown) / 1e6,
      mb_up_per_hour: perHour(bytesUp) / 1e6,
      played_s: played1 - played0,
      stalls,
      buffered_ahead_s: buffered,
    };
  } finally {
    await page?.close().catch(() => {});
    if (speaker) {
      speaker.child.kill('SIGTERM');
      await speaker.done;
    }
    await daemon.stop();
  }
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
const cells = [];
let ok = true;
try {
  for (const segmentMs of options.segmentMs) {
    process.stderr.write(`hls-web-cost: segment_ms ${segmentMs}, ${options.seconds} s window\n`);
    try {
      cells.push(await measure(browser, segmentMs));
    } catch (error) {
      ok = false;
      process.stderr.write(`hls-web-cost: segment_ms ${segmentMs} failed: ${error.message}\n`);
      cells.push({ segment_ms: segmentMs, error: error.message });
    }
  }
} finally {
  await browser.close();
}

const f = (v, d = 0) => (v === null || v === undefined ? '-' : v.toFixed(d)).padStart(9);
console.log(`One web listener (the room page: hls.js in Chromium), ${options.seconds} s window per cell; per hour:`);
console.log(' segments   playlist  playlist/s  segment/s     req/h  fetches/h   MB/h down   MB/h up   played/window  stalls   buffered   failed');
for (const c of cells) {
  if (c.error) {
    console.log(`${String(c.segment_ms).padStart(6)} ms   failed: ${c.error}`);
    continue;
  }
  console.log(`${String(c.segment_ms).padStart(6)} ms  ${c.playlists.join(',').padStart(9)}  ${f(c.per_kind.playlist.per_s, 2)}  ${f(c.per_kind.segment.per_s, 2)}` +
    ` ${f(c.requests_per_hour)} ${f(c.fetches_per_hour)}   ${f(c.mb_down_per_hour, 2)} ${f(c.mb_up_per_hour, 2)}` +
    `   ${(c.played_s / c.window_s).toFixed(3).padStart(13)}  ${String(c.stalls).padStart(6)} ${f(c.buffered_ahead_s, 2)} s ${String(c.failed).padStart(8)}`);
}
writeFileSync(options.json, JSON.stringify({ benchmark: 'hls-web-cost', date: new Date().toISOString(), options, cells }, null, 2) + '\n');
console.log(`JSON written to ${options.json}`);
process.exit(ok ? 0 : 1);
