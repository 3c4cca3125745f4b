// Test fixture for browser tests: roomcastd on a free loopback port with a temporary data dir,
// and a headless Debian Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export const buildDir = process.env.ROOMCAST_BUILD_DIR;
export const sourceDir = process.env.ROOMCAST_SOURCE_DIR;

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// `config`: the text of a roomcast.conf for this daemon (none by default).
export async function startDaemon(config = null) {
  const dataDir = mkdtempSync(join(tmpdir(), 'roomcast-web-'));
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
  if (config) {
    writeFileSync(join(dataDir, 'roomcast.conf'), config);
    args.push('--config', join(dataDir, 'roomcast.conf'));
  }
  const child = spawn(join(buildDir, 'src/app/roomcastd'), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`roomcastd exited (${code}): ${log}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20000);
  await ready;
  clearTimeout(timeout);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await once(child, 'exit');
        clearTimeout(killer);
      }
      if (!process.env.ROOMCAST_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function runCli(args) {
  const child = spawn(join(buildDir, 'src/client/roomcast'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const done = new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
  return { child, done };
}

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];
