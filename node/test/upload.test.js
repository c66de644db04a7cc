'use strict';
// Transfers with a low multipart threshold: sources, progress, abort, liveness, retries.
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');
const { FluidCloud, AbortError, ApiError, InvalidInputError } = require('fluidcloud');
const { startEmulator, sha256, bytes } = require('./helpers');

const PART = 16 * 1024;
let emu;
let fc;
let spaceId;
let tmp;

before(async () => {
  emu = await startEmulator(['--multipart-threshold', '64KiB', '--part-size', '16KiB']);
  fc = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url, concurrency: 4 });
  spaceId = (await fc.spaces.create('uploads')).id;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fluidcloud-node-up-'));
});

afterEach(async () => {
  await emu.admin('DELETE', '/_emulator/faults');
});

after(async () => {
  await emu.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Downloads the file back and checks its bytes. */
async function roundTrip(file, data) {
  assert.equal(file.size, data.length);
  assert.equal(file.sha256, sha256(data));
  const dest = path.join(tmp, `back-${file.id}`);
  await fc.files.download(file.id, dest);
  assert.ok(fs.readFileSync(dest).equals(data));
}

/** How many storage part PUTs a test made: the emulator's fault counter sees each. */
async function countingPuts() {
  await emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'storage_put', times: 1000000, action: 'delay', delay_ms: 0 }] });
  return async () => {
    const left = await emu.admin('GET', '/_emulator/faults');
    const rules = Array.isArray(left) ? left : left.rules;
    return 1000000 - (rules[0] ? rules[0].times : 0);
  };
}

test('multipart from a path, with progress', async () => {
  const data = bytes(5 * PART + 123, 7);
  const src = path.join(tmp, 'big.bin');
  fs.writeFileSync(src, data);
  const puts = await countingPuts();
  const seen = [];
  const file = await fc.files.upload(src, { spaceId, onProgress: (d, t) => seen.push([d, t]) });
  assert.equal(await puts(), 6);
  assert.equal(file.originalName, 'big.bin');
  assert.deepEqual(seen[0], [0, data.length]);
  assert.deepEqual(seen.at(-1), [data.length, data.length]);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i][0] >= seen[i - 1][0], 'monotonic');
    assert.equal(seen[i][1], data.length);
  }
  assert.ok(seen.length >= 3, `progress reported per part: ${JSON.stringify(seen)}`);
  await roundTrip(file, data);
});

test('multipart from a Buffer and from a Uint8Array', async () => {
  const data = bytes(4 * PART + 1, 11);
  const puts = await countingPuts();
  const file = await fc.files.upload(data, { spaceId, name: 'buf.bin' });
  assert.equal(await puts(), 5);
  await roundTrip(file, data);
  const view = new Uint8Array(data.buffer, data.byteOffset + 1, 4 * PART);
  const f2 = await fc.files.upload(view, { spaceId, name: 'view.bin' });
  await roundTrip(f2, Buffer.from(view));
});

test('multipart from a stream, in small uneven chunks', async () => {
  const data = bytes(6 * PART + 999, 13);
  const chunks = [];
  for (let i = 0; i < data.length; i += 5000) chunks.push(data.subarray(i, i + 5000));
  const puts = await countingPuts();
  const seen = [];
  const file = await fc.files.upload(Readable.from(chunks), {
    spaceId, name: 'stream.bin', size: data.length, onProgress: (d, t) => seen.push([d, t]),
  });
  assert.equal(await puts(), 7);
  assert.deepEqual(seen.at(-1), [data.length, data.length]);
  await roundTrip(file, data);
});

test('a single-PUT stream and a file stream', async () => {
  const data = bytes(1000, 17);
  const f1 = await fc.files.upload(Readable.from([data]), { spaceId, name: 'small.bin', size: data.length });
  await roundTrip(f1, data);
  const big = bytes(3 * PART + 5, 19);
  const src = path.join(tmp, 'via-stream.bin');
  fs.writeFileSync(src, big);
  const f2 = await fc.files.upload(fs.createReadStream(src, { highWaterMark: 1000 }), { spaceId, size: big.length });
  await roundTrip(f2, big);
  assert.equal(f2.originalName, 'upload.bin');
});

test('multipart streams that end early or run long store nothing', async () => {
  const space = await fc.spaces.create('stream sizes');
  const data = bytes(5 * PART, 23);
  await assert.rejects(fc.files.upload(Readable.from([data]), { spaceId: space.id, size: data.length + PART }), { kind: 'integrity' });
  await assert.rejects(fc.files.upload(Readable.from([data, data]), { spaceId: space.id, size: data.length }), { kind: 'integrity' });
  assert.deepEqual(await fc.files.list(space.id), []);
});

test('abort: a signal stops a stalled upload promptly', async () => {
  const space = await fc.spaces.create('aborted');
  // Every storage PUT hangs for 20 s: only the abort can end the upload in time.
  await emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'storage_put', times: 100, action: 'delay', delay_ms: 20000 }] });
  const ac = new AbortController();
  let abortedAt;
  const upload = fc.files.upload(bytes(5 * PART, 29), {
    spaceId: space.id,
    signal: ac.signal,
    onProgress: (done) => {
      if (done === 0) {
        abortedAt = Date.now(); // initiate is done, the PUTs are starting
        ac.abort();
      }
    },
  });
  await assert.rejects(upload, (e) => {
    assert.ok(e instanceof AbortError);
    assert.equal(e.name, 'AbortError');
    return true;
  });
  assert.ok(Date.now() - abortedAt < 2000, `rejected ${Date.now() - abortedAt} ms after the abort`);
  assert.deepEqual(await fc.files.list(space.id), []);
});

test('abort: a stream upload stops reading its stream', async () => {
  const ac = new AbortController();
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled++;
      if (pulled === 3) ac.abort();
      this.push(Buffer.alloc(PART));
    },
  });
  await assert.rejects(fc.files.upload(endless, { spaceId, size: 1000 * PART, signal: ac.signal }), AbortError);
  assert.ok(endless.destroyed);
});

test('abort: a download', async () => {
  const data = bytes(5 * PART, 31);
  const file = await fc.files.upload(data, { spaceId, name: 'dl.bin' });
  await emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'storage_get', times: 100, action: 'delay', delay_ms: 20000 }] });
  const ac = new AbortController();
  const dest = path.join(tmp, 'never.bin');
  const started = Date.now();
  const p = fc.files.download(file.id, dest, { signal: ac.signal, onProgress: (d) => d === 0 && ac.abort() });
  await assert.rejects(p, AbortError);
  assert.ok(Date.now() - started < 3000);
  assert.ok(!fs.existsSync(dest));
});

test('the event loop keeps ticking during an upload', async () => {
  // Each part PUT is answered after 300 ms; with concurrency 4, 12 parts take about 900 ms.
  await emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'storage_put', times: 12, action: 'delay', delay_ms: 300 }] });
  const data = bytes(12 * PART, 37);
  let ticks = 0;
  let last = Date.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const started = Date.now();
  try {
    const file = await fc.files.upload(data, { spaceId, name: 'live.bin' });
    assert.equal(file.size, data.length);
  } finally {
    clearInterval(timer);
  }
  const took = Date.now() - started;
  assert.ok(took >= 800, `took ${took} ms`);
  assert.ok(ticks >= took / 50, `${ticks} ticks in ${took} ms`);
  assert.ok(maxGap < 250, `the longest pause of the event loop was ${maxGap} ms`);
});

test('retries: failed storage PUTs and a GET answered 503 are retried', async () => {
  await emu.admin('POST', '/_emulator/faults', {
    rules: [
      { target: 'storage_put', times: 1, action: 'status', status: 503 },
      { target: 'storage_put', times: 1, action: 'reset', after_bytes: 1000 },
      { target: 'api', path_contains: '/quota', times: 2, action: 'status', status: 503, retry_after: 0 },
    ],
  });
  const data = bytes(5 * PART + 7, 41);
  const file = await fc.files.upload(data, { spaceId, name: 'retried.bin' });
  await roundTrip(file, data);
  assert.ok((await fc.quota.usage()).bytesUsed > 0);
  const left = await emu.admin('GET', '/_emulator/faults');
  assert.equal((Array.isArray(left) ? left : left.rules).length, 0, 'every fault was hit');
});

test('retries: a GET answered 502 and a download broken mid-way are retried', async () => {
  const data = bytes(3 * PART, 43);
  const file = await fc.files.upload(data, { spaceId, name: 'flaky.bin' });
  await emu.admin('POST', '/_emulator/faults', {
    rules: [
      { target: 'api', path_contains: '/files/', times: 1, action: 'status', status: 502 },
      { target: 'storage_get', times: 1, action: 'reset', after_bytes: 5000 },
    ],
  });
  await roundTrip(file, data);
});

test('retries: with maxRetries 0 the 503 surfaces as an ApiError', async () => {
  const strict = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url, maxRetries: 0 });
  await emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'api', path_contains: '/quota', times: 1, action: 'status', status: 503, retry_after: 7 }] });
  await assert.rejects(strict.quota.usage(), (e) => {
    assert.equal(e.constructor, ApiError);
    assert.equal(e.status, 503);
    assert.equal(e.retryAfter, 7);
    assert.match(e.requestId, /\S/);
    return true;
  });
});

test('retries: a failed single PUT is sent again from bytes, a path or a short stream', async () => {
  const data = bytes(3 * PART, 47); // under the multipart threshold: one PUT
  const src = path.join(tmp, 'single.bin');
  fs.writeFileSync(src, data);
  const failOnce = () => emu.admin('POST', '/_emulator/faults', { rules: [{ target: 'storage_put', times: 1, action: 'status', status: 503 }] });
  await failOnce();
  await roundTrip(await fc.files.upload(data, { spaceId, name: 'single-bytes.bin' }), data);
  await failOnce();
  await roundTrip(await fc.files.upload(src, { spaceId }), data);
  // A stream of up to 8 MiB is held in memory for its one PUT, so it is sent again too (a
  // longer one is not: core/tests/upload.rs).
  await failOnce();
  await roundTrip(await fc.files.upload(Readable.from([data]), { spaceId, size: data.length, name: 'single-stream.bin' }), data);
  const left = await emu.admin('GET', '/_emulator/faults');
  assert.deepEqual(left.rules ?? left, [], 'the 503 was used');
});

test('a stream source is released when the call never starts', async () => {
  const file = path.join(os.tmpdir(), `fc-never-${process.pid}.bin`);
  fs.writeFileSync(file, 'never sent');
  try {
    const aborted = fs.createReadStream(file);
    await assert.rejects(fc.files.upload(aborted, { spaceId, name: 'a.bin', size: 10, signal: AbortSignal.abort() }), AbortError);
    const closedClient = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url });
    closedClient.close();
    const orphan = fs.createReadStream(file);
    await assert.rejects(closedClient.files.upload(orphan, { spaceId, name: 'b.bin', size: 10 }), InvalidInputError);
    assert.ok(aborted.destroyed && orphan.destroyed, 'both streams were destroyed');
    // Their descriptors close once the lazy open is over.
    await Promise.all([aborted, orphan].map((s) => new Promise((done) => (s.closed ? done() : s.once('close', done)))));
  } finally {
    fs.rmSync(file, { force: true });
  }
});
