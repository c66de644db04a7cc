'use strict';
// Starts the emulator binary on a free port and talks to its admin API.
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');
const { FluidCloud } = require('fluidcloud');

const EMULATOR = process.env.FLUIDCLOUD_EMULATOR_BIN || path.resolve(__dirname, '../../target/debug/fluidcloud-emulator');
const JWT_SECRET = 'fluidcloud-emulator-jwt-secret';

/** Resolves once the emulator printed both lines: { url, apiKey, admin, stop }. */
function startEmulator(flags = []) {
  const child = spawn(EMULATOR, ['--listen', '127.0.0.1:0', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const env = {};
    const lines = readline.createInterface({ input: child.stdout });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
      if (env.FLUIDCLOUD_BASE_URL && env.FLUIDCLOUD_API_KEY && !env.ready) {
        env.ready = true;
        const url = env.FLUIDCLOUD_BASE_URL;
        const admin = async (method, p, body) => {
          const res = await fetch(url + p, {
            method,
            headers: body ? { 'content-type': 'application/json' } : {},
            body: body ? JSON.stringify(body) : undefined,
          });
          const text = await res.text();
          if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
          return text ? JSON.parse(text) : null;
        };
        const stop = () =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          });
        resolve({ url, apiKey: env.FLUIDCLOUD_API_KEY, admin, stop, child });
      }
    });
  });
}

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** A user JWT the emulator accepts (HS256 with its default secret). */
function userJwt(sub) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const sig = crypto.createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes. */
function bytes(n, seed = 1) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An emulator, a client of it, and the id of its default space. */
async function startWithClient(flags = []) {
  const emu = await startEmulator(flags);
  const fc = new FluidCloud({ apiKey: emu.apiKey, baseUrl: emu.url });
  const spaceId = (await fc.spaces.list())[0].id;
  return { emu, fc, spaceId };
}

module.exports = { startEmulator, startWithClient, userJwt, sha256, bytes };
