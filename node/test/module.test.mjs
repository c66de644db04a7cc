// Both module systems load the package, and the TypeScript usage file type-checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import FluidCloudDefault, { FluidCloud, FluidCloudError, ApiError, AbortError, NotFoundError } from 'fluidcloud';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

test("import { FluidCloud } from 'fluidcloud' and require('fluidcloud') give the same classes", () => {
  const cjs = require('fluidcloud');
  assert.equal(FluidCloud, cjs.FluidCloud);
  assert.equal(FluidCloudDefault, cjs.FluidCloud);
  assert.equal(FluidCloudError, cjs.FluidCloudError);
  assert.equal(ApiError, cjs.ApiError);
  assert.equal(AbortError, cjs.AbortError);
  assert.equal(NotFoundError, cjs.NotFoundError);
  assert.equal(typeof FluidCloud, 'function');
});

test('every export of the CommonJS entry is an ES export too', async () => {
  const esm = await import('fluidcloud');
  for (const name of Object.keys(require('fluidcloud'))) assert.ok(name in esm, name);
});

test('index.d.ts: a TypeScript file using the API passes tsc --noEmit', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(here, '..', 'tsconfig.json')], { stdio: 'inherit' });
});
