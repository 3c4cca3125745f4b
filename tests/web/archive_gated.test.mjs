// The archive page of a server whose archive is the operator's ([archive] public = false): the
// page asks for an admin token, refuses one without the archive grant, lists the recordings
// with one that has it, and plays a recording in a real browser from the signed URL the
// archive lists (an <audio> element sends no Authorization header).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startDaemon, runCli, chromiumArgs, buildDir, hasPlayed, endRoom, phonePage } from './roomcast_fixture.mjs';

const secret = 'web-test-api-secret-0123456789abcdef-0123';
let daemon;
let browser;

// An admin token (docs/protocol.md), made here with node's own HMAC.
function adminToken(grants, expiresIn = 600) {
  const b64 = (text) => Buffer.from(text).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(JSON.stringify({ iss: 'ops', iat: now, exp: now + expiresIn, grants }))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

before(async () => {
  daemon = await startDaemon(`[auth]\napi_key = ops\napi_secret = ${secret}\nopen_rooms = false\n[archive]\npublic = false\n`);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test('the operator opens the archive with an admin token and plays a recording', { timeout: 120000 }, async () => {
  const create = (token) => fetch(`${daemon.url}/api/v1/rooms`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ title: 'Operators only', record: true }),
  });
  assert.equal((await create(null)).status, 401);
  const answer = await create(adminToken({ room_create: true }));
  assert.equal(answer.status, 201);
  const created = await answer.json();
  const host = runCli(['--server', daemon.url, 'speak', created.id, '--token', created.host_token, '--tone', '440',
    '--seconds', '4']);
  const spoke = await host.done;
  assert.equal(spoke.code, 0, spoke.err);
  assert.equal((await endRoom(daemon, created)).status, 200);

  const page = await phonePage(browser);
  await page.goto(`${daemon.url}/archive`);
  const tokenField = page.getByLabel(/admin token/);
  await tokenField.waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#recordings li').count(), 0);

  // A token without the archive grant is not enough.
  await tokenField.fill(adminToken({ room_create: true }));
  await page.getByRole('button', { name: 'Open the archive' }).click();
  await page.locator('#archive-status', { hasText: 'lacks the archive grant' }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#recordings li').count(), 0);

  await tokenField.fill(adminToken({ archive: true }));
  await page.getByRole('button', { name: 'Open the archive' }).click();
  const item = page.locator('#recordings li', { hasText: 'Operators only' });
  await item.waitFor({ timeout: 10000 });
  assert.ok(await page.locator('#archive-login').isHidden());
  await item.getByRole('button', { name: 'Play' }).click();
  await page.waitForFunction(hasPlayed, { id: 'archive-player', seconds: 1 }, { timeout: 15000 });
  const src = await page.locator('#archive-player').getAttribute('src');
  assert.match(src, /\/recordings\/.+\.ogg\?exp=\d+&sig=/, 'played from the signed URL');
  await page.screenshot({ path: join(buildDir, 'test-artifacts', 'archive-gated.png'), fullPage: true });
  await page.close();
});
