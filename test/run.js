#!/usr/bin/env node
'use strict';
// Test runner: `npm test` runs this file.
//
// Node 20 neither expands quoted globs nor finds .ts files by itself, so the test files are
// listed here explicitly (a run that finds no files would count as "no tests", not a pass).
// It builds first (tsc, and the native addon when it is missing) so that the integration tests run the real compiled CLI, then runs
// `node --import tsx --test --test-concurrency=1 FILES` with inherited stdio: integration
// tests use ports and CPU, so the files run one after another. It sets
// SWITCHYARD_POISON_SHARED_READS=1 for them (see src/http/h1/shared_reads.ts).
//
//   node test/run.js                          all of test/unit, test/integration, test/netns
//   node test/run.js test/unit/x.test.ts ...  only these files (or directories)
//   SWITCHYARD_TEST_NO_BUILD=1 node test/run.js ...   skip the build step
const { spawnSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SUITES = ['test/unit', 'test/integration', 'test/netns'];

/** Every *.test.ts under dir (recursively: test/unit mirrors src/), sorted for a stable order. */
function findTests(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...findTests(p));
    else if (ent.isFile() && ent.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

function selectFiles(args) {
  if (args.length === 0) return SUITES.flatMap((s) => findTests(path.join(ROOT, s)));
  const files = [];
  for (const a of args) {
    const p = path.resolve(process.cwd(), a);
    if (!fs.existsSync(p)) {
      console.error(`test/run.js: no such file or directory: ${a}`);
      process.exit(2);
    }
    if (fs.statSync(p).isDirectory()) files.push(...findTests(p));
    else files.push(p);
  }
  return files;
}

const ADDON = path.join(ROOT, 'src/interception/native/build/Release/switchyard_interception.node');

function build() {
  if (process.env.SWITCHYARD_TEST_NO_BUILD === '1') return 0;
  // `npm ci` builds the interception addon (prepare); build it here only when it is missing.
  if (!fs.existsSync(ADDON)) {
    console.log('# building the interception addon: npm run build:native');
    const n = spawnSync('npm', ['run', 'build:native'], { cwd: ROOT, stdio: 'inherit' });
    if (n.status !== 0) {
      console.error(`# native build FAILED (exit ${n.status ?? n.signal})`);
      return n.status || 1;
    }
  }
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  console.log('# building: tsc -p tsconfig.json');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`# build FAILED (exit ${r.status ?? r.signal}); integration tests will run against a stale or missing dist/`);
    return r.status || 1;
  }
  return 0;
}

const files = selectFiles(process.argv.slice(2));
if (files.length === 0) {
  console.error('test/run.js: no test files found');
  process.exit(1);
}
const buildStatus = build();

// --test-timeout: a hung test fails (10 min each) instead of using up CI's time;
// --test-force-exit: a file whose tests are done exits even if something left a handle open.
const nodeArgs = [
  '--import', 'tsx',
  '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit',
  ...files.map((f) => path.relative(ROOT, f)),
];
// Every proxy the tests start overwrites each shared read buffer after use, so an HTTP/1.1
// codec that keeps bytes of it by mistake fails a test (src/http/h1/shared_reads.ts).
const env = { ...process.env, SWITCHYARD_POISON_SHARED_READS: process.env.SWITCHYARD_POISON_SHARED_READS ?? '1' };
const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (child.pid) {
      try {
        process.kill(child.pid, sig);
      } catch {
        /* gone */
      }
    }
  });
}
child.on('exit', (code, signal) => {
  const testStatus = code === null ? 1 : code;
  if (buildStatus !== 0) console.error('# the build failed: failing the run');
  if (signal) console.error(`# test process ended by ${signal}`);
  process.exit(testStatus !== 0 ? testStatus : buildStatus !== 0 ? 1 : 0);
});
