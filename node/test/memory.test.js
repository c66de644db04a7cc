'use strict';
// The bytes of a Buffer/Uint8Array upload are the upload's own from the call on: changing,
// transferring or freeing the JavaScript memory afterwards neither crashes nor alters it.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { startWithClient, sha256, bytes } = require('./helpers');

let emu;
let fc;
let spaceId;

before(async () => {
  ({ emu, fc, spaceId } = await startWithClient());
});

after(async () => {
  await emu.stop();
});

/** Runs a case of fixtures/freed-bytes.js in its own process; resolves with what it printed. */
function freedBytes(which) {
  const script = path.join(__dirname, 'fixtures', 'freed-bytes.js');
  const env = { ...process.env, FLUIDCLOUD_API_KEY: emu.apiKey, FLUIDCLOUD_BASE_URL: emu.url };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', script, which], { env, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, signal: error ? error.signal : null, stdout, stderr });
    });
  });
}

async function assertStoredIntact(which) {
  const run = await freedBytes(which);
  assert.deepEqual([run.code, run.signal], [0, null], `the child process failed:\n${run.stderr}`);
  const result = JSON.parse(run.stdout);
  assert.equal(result.sha256, result.expected, 'the upload hashed the bytes it was given');
  const stored = await fc.files.get(result.id);
  assert.equal(stored.sha256, result.expected);
  assert.equal(stored.size, result.size);
}

test('a Uint8Array transferred away and collected mid-upload: no crash, the original bytes are stored', { timeout: 120000 }, async () => {
  await assertStoredIntact('transferred');
});

test('a worker that exits mid-upload of its Buffer: no crash, the original bytes are stored', { timeout: 120000 }, async () => {
  await assertStoredIntact('worker-exit');
});

test('changing the Buffer once upload() returned does not change what is stored', async () => {
  const data = bytes(300000, 3);
  const original = Buffer.from(data);
  const upload = fc.files.upload(data, { spaceId, name: 'changed.bin' });
  data.fill(0);
  const file = await upload;
  assert.equal(file.sha256, sha256(original));
  const link = await fc.files.downloadUrl(file.id);
  const back = Buffer.from(await (await fetch(link.url)).arrayBuffer());
  assert.ok(back.equals(original));
});
