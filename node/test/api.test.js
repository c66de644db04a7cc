'use strict';
// Every method of the client against the emulator.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { FluidCloud, NotFoundError, InvalidInputError } = require('fluidcloud');
const { startEmulator, userJwt, sha256 } = require('./helpers');

let emu;
let fc;
let space;
let tmp;

before(async () => {
  emu = await startEmulator();
  fc = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fluidcloud-node-'));
});

after(async () => {
  await emu.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('spaces.list and spaces.create', async () => {
  const spaces = await fc.spaces.list();
  assert.equal(spaces[0].name, 'Default');
  space = await fc.spaces.create('Brand Assets');
  assert.equal(space.name, 'Brand Assets');
  assert.match(space.id, /^[0-9a-f-]{36}$/);
  assert.ok('tenantId' in space && 'createdAt' in space && !('tenant_id' in space));
  const names = (await fc.spaces.list()).map((s) => s.name);
  assert.deepEqual(names.sort(), ['Brand Assets', 'Default']);
});

test('folders: create, list, rename, move, delete, restore', async () => {
  const a = await fc.folders.create('a', space.id);
  const b = await fc.folders.create('b', space.id, { parentId: a.id });
  assert.equal(b.parentId, a.id);
  assert.equal(a.parentId, null);
  assert.deepEqual((await fc.folders.list(space.id)).map((f) => f.name), ['a']);
  assert.deepEqual((await fc.folders.list(space.id, { parentId: a.id })).map((f) => f.name), ['b']);
  assert.equal((await fc.folders.rename(b.id, 'b2')).name, 'b2');
  const moved = await fc.folders.move(b.id, null);
  assert.equal(moved.parentId, null);
  assert.equal((await fc.folders.move(b.id, a.id)).parentId, a.id);
  const deleted = await fc.folders.delete(a.id);
  assert.ok(deleted.deletedAt);
  assert.deepEqual(await fc.folders.list(space.id), []);
  assert.deepEqual((await fc.folders.list(space.id, { trash: true })).map((f) => f.name), ['a']);
  const restored = await fc.folders.restore(a.id);
  assert.equal(restored.deletedAt, null);
  assert.deepEqual((await fc.folders.list(space.id)).map((f) => f.name), ['a']);
});

test('files: upload, list, get, resolve, rename, move, delete, restore', async () => {
  const folder = await fc.folders.create('docs', space.id);
  const file = await fc.files.upload(Buffer.from('hello world'), {
    spaceId: space.id,
    folderId: folder.id,
    name: 'hello.txt',
    app: 'notes',
    clientKey: 'note-1',
  });
  assert.equal(file.originalName, 'hello.txt');
  assert.equal(file.mime, 'text/plain');
  assert.equal(file.size, 11);
  assert.equal(file.sha256, sha256('hello world'));
  assert.equal(file.folderId, folder.id);
  assert.equal(file.sourceApp, 'notes');
  assert.equal(file.clientKey, 'note-1');
  assert.equal(file.publicUrl, null);

  assert.deepEqual((await fc.files.list(space.id, { folderId: folder.id })).map((f) => f.id), [file.id]);
  assert.deepEqual(await fc.files.list(space.id), []);
  assert.deepEqual((await fc.files.list(space.id, { folderId: folder.id, app: 'notes' })).length, 1);
  assert.deepEqual((await fc.files.list(space.id, { folderId: folder.id, app: 'other' })).length, 0);
  assert.equal((await fc.files.get(file.id)).status, 'ready');
  assert.equal((await fc.files.resolve('note-1', { app: 'notes' })).id, file.id);
  await assert.rejects(fc.files.resolve('note-1', { app: 'other' }), NotFoundError);

  assert.equal((await fc.files.rename(file.id, 'renamed.txt')).originalName, 'renamed.txt');
  assert.equal((await fc.files.move(file.id, null)).folderId, null);
  assert.equal((await fc.files.move(file.id, folder.id)).folderId, folder.id);
  assert.ok((await fc.files.delete(file.id)).deletedAt);
  assert.deepEqual((await fc.files.list(space.id, { folderId: folder.id, trash: true })).map((f) => f.id), [file.id]);
  assert.equal((await fc.files.restore(file.id)).deletedAt, null);
});

test('files: downloadUrl, publicUrl, signedUrl, download, upload from a path', async () => {
  const src = path.join(tmp, 'logo.png');
  fs.writeFileSync(src, Buffer.from('not really a png'));
  const file = await fc.files.upload(src, { spaceId: space.id, public: true });
  const viaUrl = await fc.files.upload(require('node:url').pathToFileURL(src), { spaceId: space.id, name: 'u.png', size: 16 });
  assert.equal(viaUrl.sha256, file.sha256);
  assert.equal(file.originalName, 'logo.png');
  assert.equal(file.mime, 'image/png');
  assert.ok(file.publicUrl);
  const fetched = await fetch(file.publicUrl);
  assert.equal(Buffer.from(await fetched.arrayBuffer()).toString(), 'not really a png');

  const dl = await fc.files.downloadUrl(file.id);
  assert.ok(dl.url.startsWith('http') && 'expiresAt' in dl);
  const pub = await fc.files.publicUrl(file.id);
  assert.equal(pub.url, file.publicUrl);
  assert.equal(pub.expiresAt, null);
  const signed = await fc.files.signedUrl(file.id);
  assert.equal(signed.permission, 'view');
  assert.ok(signed.expiresAt);
  const signed2 = await fc.files.signedUrl(file.id, { expiresInDays: 1, permission: 'download' });
  assert.equal(signed2.permission, 'download');
  const res = await fetch(signed2.url);
  assert.match(res.headers.get('content-disposition') || '', /attachment/);
  await res.arrayBuffer();

  const dest = path.join(tmp, 'back.png');
  const seen = [];
  const got = await fc.files.download(file.id, dest, { onProgress: (d, t) => seen.push([d, t]) });
  assert.equal(got.id, file.id);
  assert.equal(fs.readFileSync(dest).toString(), 'not really a png');
  assert.deepEqual(seen.at(-1), [16, 16]);
});

test('shares.list and shares.revoke', async () => {
  const file = await fc.files.upload(Buffer.from('share me'), { spaceId: space.id, name: 's.txt' });
  const link = await fc.files.signedUrl(file.id, { expiresInDays: 3 });
  const shares = await fc.shares.list({ fileId: file.id });
  assert.equal(shares.length, 1);
  assert.equal(shares[0].id, link.id);
  assert.equal(shares[0].fileId, file.id);
  assert.equal(shares[0].revoked, false);
  assert.equal(typeof shares[0].downloadCount, 'number');
  assert.equal(typeof shares[0].hasPassword, 'boolean');
  assert.equal(await fc.shares.revoke(link.id), undefined);
  await fc.shares.revoke(link.id); // again is fine
  assert.deepEqual(await fc.shares.list({ fileId: file.id }), []);
  const inactive = await fc.shares.list({ fileId: file.id, includeInactive: true });
  assert.equal(inactive[0].revoked, true);
  assert.ok((await fc.shares.list()).length >= 1);
});

test('quota.usage', async () => {
  const q = await fc.quota.usage();
  assert.equal(typeof q.bytesUsed, 'number');
  assert.ok(q.bytesUsed > 0);
  assert.ok(q.bytesLimit > q.bytesUsed);
  assert.ok(q.linksUsed >= 1);
  assert.equal(typeof q.linksLimit, 'number');
  assert.ok(Array.isArray(q.byApp));
  assert.ok(q.byApp.some((a) => a.app === 'notes' && a.bytesUsed === 11 && a.files === 1));
});

test('exchangeServiceToken and asUser', async () => {
  const { key } = await emu.admin('POST', '/_emulator/keys', { scopes: ['service:delegate', 'service:jobtoken'] });
  const service = new FluidCloud({ apiKey: key, baseUrl: emu.url });
  const token = await service.exchangeServiceToken(userJwt('user-1'), 'notes', { ttlSeconds: 600 });
  assert.ok(token.token.startsWith('fcd_'));
  assert.equal(token.userId, 'user-1');
  assert.equal(token.app, 'notes');
  assert.equal(token.tokenType, 'Bearer');
  assert.equal(token.expiresIn, 600);
  const job = await service.exchangeServiceToken(userJwt('user-1'), 'notes', { jobId: 'job-7' });
  assert.ok(job.token.startsWith('fcd_'));

  const user = await service.asUser(userJwt('user-2'), 'notes', { ttlSeconds: 600 });
  assert.ok(user instanceof FluidCloud);
  assert.equal(user.baseUrl, emu.url);
  const [home] = await user.spaces.list();
  const f = await user.files.upload(Buffer.from('mine'), { spaceId: home.id, name: 'm.txt' });
  assert.equal(f.sourceApp, 'notes');
  // Another tenant: invisible to the default key.
  await assert.rejects(fc.files.get(f.id), NotFoundError);
  service.close();
});

test('close, baseUrl, and the key never shows', async () => {
  const c = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url + '/' });
  assert.equal(c.baseUrl, emu.url);
  assert.ok(!util.inspect(c, { depth: 5 }).includes(emu.apiKey));
  assert.ok(!JSON.stringify(c).includes(emu.apiKey));
  c.close();
  await assert.rejects(c.spaces.list(), InvalidInputError);
});

test('FLUIDCLOUD_API_KEY and FLUIDCLOUD_BASE_URL are the defaults', async () => {
  const saved = { key: process.env.FLUIDCLOUD_API_KEY, url: process.env.FLUIDCLOUD_BASE_URL };
  process.env.FLUIDCLOUD_API_KEY = emu.apiKey;
  process.env.FLUIDCLOUD_BASE_URL = emu.url;
  try {
    const c = new FluidCloud();
    assert.equal(c.baseUrl, emu.url);
    assert.ok((await c.spaces.list()).length >= 1);
  } finally {
    for (const [k, v] of [['FLUIDCLOUD_API_KEY', saved.key], ['FLUIDCLOUD_BASE_URL', saved.url]]) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
