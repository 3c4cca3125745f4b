// The Debian package, built and installed as a user would get it:
// - `dpkg-buildpackage -b -us -uc` builds roomcast_*.deb from a copy of the tree (build_deb.sh);
// - apt installs it into a fresh Debian 12 root, resolving its Depends (fresh_root.sh);
// - systemd-analyze (the root's own) accepts the installed unit;
// - the installed /usr/bin/roomcastd, with the installed /etc/roomcast/roomcast.conf, runs in
//   that root on a loopback port; the installed `roomcast speak` (in the root too) speaks a
//   440 Hz tone in a room; the web page the installed roomcastd serves (its installed web app
//   and hls.js) plays the room in Debian's Chromium (outside the root: same network), and the
//   tone is in what it plays.
// Needs root (chroot, mount namespaces) and mmdebstrap; the first run downloads the packages'
// dependencies from the Debian mirror (cached under the build dir for later runs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs, freePort, hasPlayed, toneLevels } from '../web/roomcast_fixture.mjs';

const sourceDir = process.env.ROOMCAST_SOURCE_DIR;
const work = join(process.env.ROOMCAST_BUILD_DIR, 'tests', 'packaging');
const root = join(work, 'root');
const here = join(sourceDir, 'tests', 'packaging');
const TONE_HZ = 440;
const OTHER_HZ = 660;

const missing = process.getuid() !== 0 ? 'needs root (chroot, mount namespaces)'
  : spawnSync('sh', ['-c', 'command -v mmdebstrap dpkg-buildpackage']).status !== 0 ? 'needs mmdebstrap and dpkg-dev'
    : null;

function step(what, argv, timeoutMs) {
  const started = Date.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`${what}: ${seconds} s`);
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr}\n${r.stdout}`);
  return r.stdout.trim();
}

// What runs in the root gets the environment of a fresh machine, none of this one's settings
// (GST_PLUGIN_PATH, SSL_CERT_FILE naming files the root does not have): only what the package
// installed.
const rootEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

function inRoot(args) {
  return spawn(join(here, 'in_root.sh'), [root, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: rootEnv });
}

async function stop(child, deadlineMs = 15000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');  // by its own PID: in_root.sh ends as the command (exec)
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  await once(child, 'exit');
  clearTimeout(killer);
}

let deb;
let daemon;
let speaker;
let browser;

before(async () => {
  if (missing) return;
  deb = step('dpkg-buildpackage -b -us -uc (build_deb.sh)', [join(here, 'build_deb.sh'), sourceDir, work], 45 * 60000);
  step('fresh root with the package (fresh_root.sh)', [join(here, 'fresh_root.sh'), deb, join(work, 'cache'), root],
    30 * 60000);
});

after(async () => {
  await browser?.close();
  await stop(speaker);
  await stop(daemon);
  if (existsSync(root) && !process.env.ROOMCAST_KEEP_TEST_DATA) rmSync(root, { recursive: true, force: true });
});

test('the package says what it needs', { skip: missing || false }, () => {
  const fields = step('dpkg-deb -f', ['dpkg-deb', '-f', deb, 'Package', 'Depends']);
  console.log(fields);
  for (const needed of ['gstreamer1.0-plugins-bad', 'gstreamer1.0-nice', 'gstreamer1.0-plugins-good', 'libsoup-3.0-0',
    'libsystemd0']) assert.match(fields, new RegExp(`\\b${needed.replace(/\./g, '\\.')}\\b`), needed);
  const files = step('dpkg-deb -c', ['dpkg-deb', '-c', deb]);
  for (const path of ['./usr/bin/roomcastd', './usr/bin/roomcast', './etc/roomcast/roomcast.conf',
    './usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstroomcast.so', './usr/share/roomcast/hls.js/hls.min.js',
    './usr/share/roomcast/web/index.html', './usr/share/roomcast/pipelines/program-hls.pipeline',
    './lib/systemd/system/roomcastd.service']) assert.ok(files.includes(` ${path}\n`) || files.endsWith(` ${path}`), path);
});

test('systemd-analyze verify accepts the installed unit', { skip: missing || false }, () => {
  const r = spawnSync(join(here, 'in_root.sh'), [root, 'systemd-analyze', 'verify', '/lib/systemd/system/roomcastd.service'],
    { encoding: 'utf8', timeout: 120000, env: rootEnv });
  console.log(`systemd-analyze verify: exit ${r.status}; ${r.stderr.trim() || '(nothing to say)'}`);
  assert.equal(r.status, 0, r.stderr);
  // A warning about our unit (an unknown setting, a bad value) fails it too.
  assert.doesNotMatch(r.stderr, /roomcastd\.service:/, r.stderr);
  const unit = readFileSync(join(root, 'lib/systemd/system/roomcastd.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/roomcastd .*--config \/etc\/roomcast\/roomcast\.conf$/m);
  assert.match(unit, /^Type=notify$/m);
});

test('the installed roomcastd serves a room that the installed web page plays with hls.js',
  { skip: missing || false, timeout: 240000 }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    daemon = inRoot(['/usr/bin/roomcastd', '--config', '/etc/roomcast/roomcast.conf', '--listen', `127.0.0.1:${port}`,
      '--data-dir', '/var/lib/roomcast']);
    let log = '';
    daemon.stderr.on('data', (c) => { log += c; });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`roomcastd did not listen within 30 s: ${log}`)), 30000);
      daemon.stderr.on('data', () => { if (log.includes('listening on')) { clearTimeout(timer); resolve(); } });
      daemon.once('exit', (code) => { clearTimeout(timer); reject(new Error(`roomcastd exited (${code}): ${log}`)); });
    });

    const health = await fetch(`${url}/api/v1/health`);
    const healthBody = await health.json();
    assert.equal(health.status, 200, JSON.stringify(healthBody));
    assert.equal(healthBody.checks.database.ok, true);

    // The player the page loads is the installed copy of hls.js.
    const served = Buffer.from(await (await fetch(`${url}/vendor/hls.min.js`)).arrayBuffer());
    assert.ok(served.equals(readFileSync(join(root, 'usr/share/roomcast/hls.js/hls.min.js'))), 'hls.min.js served');

    const created = await fetch(`${url}/api/v1/rooms`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Installed', topic: 'the Debian package' }),
    });
    assert.equal(created.status, 201);
    const room = await created.json();
    speaker = inRoot(['/usr/bin/roomcast', '--server', url, 'speak', room.id, '--token', room.host_token, '--tone',
      String(TONE_HZ), '--seconds', '120']);
    let said = '';
    speaker.stdout.on('data', (c) => { said += c; });
    speaker.stderr.on('data', (c) => { said += c; });

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') console.log(`[console] ${m.text()}`); });
    await page.goto(`${url}/room/${encodeURIComponent(room.id)}`);
    await page.waitForFunction(hasPlayed, { id: 'player', seconds: 3 }, { timeout: 60000, polling: 200 })
      .catch((error) => { throw new Error(`no playback: ${error.message}\nspeaker: ${said}\nroomcastd: ${log}`); });
    const usesHlsJs = await page.evaluate(() => typeof window.Hls === 'function');
    assert.ok(usesHlsJs, 'the page plays through hls.js');

    // The speaker's tone is what the page plays (1.5 s of analysis per try).
    let levels;
    for (let i = 0; i < 10; i++) {
      levels = await toneLevels(page, '#player', [TONE_HZ, OTHER_HZ]);
      if (levels[0] > levels[1] + 20) break;
    }
    console.log(`installed page plays ${TONE_HZ} Hz at ${levels[0].toFixed(1)} dB, ${OTHER_HZ} Hz at ${levels[1].toFixed(1)} dB`);
    assert.ok(levels[0] > levels[1] + 20,
      `tone ${levels[0].toFixed(1)} dB vs ${levels[1].toFixed(1)} dB\nspeaker: ${said}\nroomcastd: ${log}`);
  });
