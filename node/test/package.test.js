'use strict';
// The package as published: packed, installed offline into a consumer project with install
// scripts allowed (as any `npm install` runs them), then used from CommonJS, ES modules and
// TypeScript in both module styles.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const ts = require('typescript');
const { startEmulator } = require('./helpers');

const PKG = path.resolve(__dirname, '..');
const TSC = require.resolve('typescript/bin/tsc');
// The consumer's TypeScript finds @types/node here, as if it had installed it.
const TYPE_ROOTS = [path.join(PKG, 'node_modules', '@types')];

let emu;
let tmp;
let consumer;
let installed;

async function run(file, args, cwd, env = process.env) {
  try {
    const { stdout } = await promisify(execFile)(file, args, { cwd, env, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed:\n${e.stdout}\n${e.stderr}`);
  }
}

/** Runs a script in the consumer project, against the emulator; resolves with its stdout. */
function inConsumer(args) {
  const env = { ...process.env, FLUIDCLOUD_API_KEY: emu.apiKey, FLUIDCLOUD_BASE_URL: emu.url };
  return run(process.execPath, args, consumer, env);
}

before(async () => {
  emu = await startEmulator();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fluidcloud-node-pkg-'));
  const [packed] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', tmp], PKG));
  consumer = path.join(tmp, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await run('npm', ['install', '--offline', '--ignore-scripts=false', '--no-audit', '--no-fund', path.join(tmp, packed.filename)], consumer);
  installed = path.join(consumer, 'node_modules', 'fluidcloud');
});

after(async () => {
  await emu.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the packed package installs offline and runs no install script', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(manifest.scripts?.[hook], undefined, `a consumer's install would run the ${hook} script`);
  }
  assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [], 'the package needs nothing at runtime');
  // Every file an entry point names was packed.
  const targets = [manifest.main, manifest.types];
  const walk = (v) => (typeof v === 'string' ? targets.push(v) : Object.values(v).forEach(walk));
  walk(manifest.exports);
  for (const target of targets) assert.ok(fs.existsSync(path.join(installed, target)), `${target} is not in the package`);
});

test('the installed package loads from CommonJS and ES modules, and talks to the API', async () => {
  const cjs = await inConsumer([
    '-e',
    "const m = require('fluidcloud'); new m.default().spaces.list().then((s) => console.log(m.default === m.FluidCloud, s.length))",
  ]);
  assert.equal(cjs.trim(), 'true 1');
  const esm = await inConsumer([
    '--input-type=module',
    '-e',
    "import F, { FluidCloud } from 'fluidcloud'; console.log(F === FluidCloud, (await new F().spaces.list()).length)",
  ]);
  assert.equal(esm.trim(), 'true 1');
});

/** What both TypeScript programs do: default and named imports, a call, a typed error. */
const PROGRAM = `import FluidCloud from 'fluidcloud';
import { FluidCloud as Named, NotFoundError, type Space } from 'fluidcloud';

async function main(): Promise<void> {
  const fc = new FluidCloud();
  const spaces: Space[] = await fc.spaces.list();
  let notFound = false;
  try {
    await fc.files.get('00000000-0000-4000-8000-000000000000');
  } catch (e) {
    notFound = e instanceof NotFoundError && e.call === 'files.get';
  }
  console.log(JSON.stringify({ named: fc instanceof Named, spaces: spaces.length, notFound }));
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;

/** Compiles PROGRAM as `file` with these compiler options, runs the output, parses its line. */
async function compileAndRun(dir, file, compilerOptions, output) {
  const project = path.join(consumer, dir);
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, file), PROGRAM);
  const options = { strict: true, target: 'es2022', outDir: 'out', typeRoots: TYPE_ROOTS, types: ['node'], ...compilerOptions };
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: [file] }));
  await run(process.execPath, [TSC, '-p', project], project);
  return JSON.parse(await inConsumer([path.join(project, 'out', output)]));
}

test('TypeScript, CommonJS output with esModuleInterop: the default import is the client class', async () => {
  const result = await compileAndRun('ts-cjs', 'main.ts', { module: 'commonjs', esModuleInterop: true }, 'main.js');
  assert.deepEqual(result, { named: true, spaces: 1, notFound: true });
});

test('TypeScript, an ES module under node16 resolution: the default import is the client class', async () => {
  const result = await compileAndRun('ts-esm', 'main.mts', { module: 'node16', moduleResolution: 'node16' }, 'main.mjs');
  assert.deepEqual(result, { named: true, spaces: 1, notFound: true });
});

/** The names of the values (not types) that a declaration file exports. */
function declaredValues(file) {
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, noEmit: true, typeRoots: TYPE_ROOTS,
  });
  const checker = program.getTypeChecker();
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)));
  return exports
    .filter((s) => ((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value) !== 0)
    .map((s) => s.name)
    .sort();
}

test('every value the declarations export exists at runtime, in both entries', async () => {
  const cjsTypes = declaredValues(path.join(installed, 'index.d.ts'));
  const esmTypes = declaredValues(path.join(installed, 'index.d.mts'));
  assert.ok(cjsTypes.includes('FluidCloud') && cjsTypes.includes('default'), cjsTypes.join());
  assert.deepEqual(esmTypes, cjsTypes);
  const cjs = JSON.parse(await inConsumer(['-p', "JSON.stringify(Object.keys(require('fluidcloud')))"]));
  const esm = JSON.parse(await inConsumer(['--input-type=module', '-e', "console.log(JSON.stringify(Object.keys(await import('fluidcloud'))))"]));
  for (const name of cjsTypes) assert.ok(cjs.includes(name), `index.d.ts declares ${name}; require('fluidcloud') has no such export`);
  for (const name of esmTypes) assert.ok(esm.includes(name), `index.d.mts declares ${name}; import('fluidcloud') has no such export`);
});
