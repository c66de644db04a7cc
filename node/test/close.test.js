'use strict';
// close() releases the client's connections at once, not when the garbage collector gets to
// the native half: a TCP proxy between the client and the emulator sees the client's pooled
// socket close while the client object is still referenced.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { FluidCloud, InvalidInputError } = require('fluidcloud');
const { startEmulator, userJwt } = require('./helpers');

let emu;

before(async () => {
  emu = await startEmulator();
});

after(async () => {
  await emu.stop();
});

/** Rejects after `ms` saying what was awaited; `promise` settles first, or never. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A TCP proxy to `target` (http://host:port). It records each client socket and when it closes;
 * while `hold()` is in force, bytes from the client are kept back (and `held` resolves at the
 * first of them) until `release()` sends them on.
 */
async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const sockets = [];
  let holding = null; // { queue: [[upstream, chunk]], seen, resolveSeen }
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    const entry = { client, closed: new Promise((resolve) => client.once('close', resolve)), isClosed: false };
    entry.closed.then(() => (entry.isClosed = true));
    sockets.push(entry);
    client.on('data', (chunk) => {
      if (holding) {
        holding.queue.push([upstream, chunk]);
        holding.resolveSeen();
      } else {
        upstream.write(chunk);
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    sockets,
    hold() {
      let resolveSeen;
      const seen = new Promise((resolve) => (resolveSeen = resolve));
      holding = { queue: [], seen, resolveSeen };
      return seen;
    },
    release() {
      const { queue } = holding;
      holding = null;
      for (const [upstream, chunk] of queue) upstream.write(chunk);
    },
    close() {
      for (const { client } of sockets) client.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

test('close() releases the pooled connections at once; a call in flight still resolves', async () => {
  const proxy = await startProxy(emu.url);
  try {
    const fc = new FluidCloud({ apiKey: emu.apiKey, baseUrl: proxy.url, maxRetries: 0 });
    // The native half as well: with it strongly referenced, only close() can release it,
    // never the garbage collector.
    const nativeKey = Object.getOwnPropertySymbols(fc).find((s) => s.description === 'native');
    const nativeHalf = nativeKey && fc[nativeKey];
    assert.ok(nativeHalf, 'the client has its native half');

    const [space] = await fc.spaces.list();
    assert.ok(space.id);
    assert.ok(proxy.sockets.length >= 1, 'the call went through the proxy');
    assert.ok(proxy.sockets.some((s) => !s.isClosed), 'the connection stays in the pool after the call');

    // A call in flight: its request has reached the proxy (held there) when close() runs.
    const seen = proxy.hold();
    const inFlight = fc.spaces.list();
    await within(10_000, 'the in-flight request at the proxy', seen);
    fc.close();
    proxy.release();
    const spaces = await within(10_000, 'the in-flight call', inFlight);
    assert.ok(spaces.some((s) => s.id === space.id), 'the call in flight resolves normally');

    // Every client-side socket ends, while `fc` and its native half are still referenced.
    await within(
      10_000,
      'the client-side sockets to close after close()',
      Promise.all(proxy.sockets.map((s) => s.closed)),
    );
    assert.ok(proxy.sockets.every((s) => s.isClosed));

    // A call after close() rejects as before.
    await assert.rejects(fc.spaces.list(), (e) => {
      assert.ok(e instanceof InvalidInputError, `${e && e.name}: ${e && e.message}`);
      assert.equal(e.call, 'spaces.list');
      assert.equal(e.message, 'spaces.list: the client is closed');
      return true;
    });
    await assert.rejects(fc.asUser('jwt', 'app'), InvalidInputError);
    assert.equal(fc.baseUrl, proxy.url);
    // The native half itself answers a call after close() with the same error.
    const envelope = JSON.parse(await nativeHalf.call('spaces.list', '{}'));
    assert.equal(envelope.error.kind, 'invalid_input');
    assert.equal(envelope.error.message, 'spaces.list: the client is closed');
    assert.equal(nativeHalf.baseUrl, proxy.url);
    // Closing twice is harmless.
    fc.close();
    nativeHalf.close();
  } finally {
    await proxy.close();
  }
});

test('a client from asUser shares the connections: they close once it is closed too', async () => {
  const proxy = await startProxy(emu.url);
  try {
    const { key } = await emu.admin('POST', '/_emulator/keys', { scopes: ['service:delegate'] });
    const service = new FluidCloud({ apiKey: key, baseUrl: proxy.url, maxRetries: 0 });
    const user = await service.asUser(userJwt('close-user'), 'notes');
    service.close();
    await assert.rejects(service.asUser(userJwt('close-user'), 'notes'), InvalidInputError);
    // The user's client still works after its parent closed.
    const [home] = await user.spaces.list();
    assert.ok(home.id);
    assert.ok(proxy.sockets.some((s) => !s.isClosed), 'the shared connection is still pooled');
    user.close();
    await within(
      10_000,
      'the client-side sockets to close after both clients closed',
      Promise.all(proxy.sockets.map((s) => s.closed)),
    );
    await assert.rejects(user.spaces.list(), InvalidInputError);
    assert.equal(service.baseUrl, user.baseUrl);
  } finally {
    await proxy.close();
  }
});
