// The command line, as a user meets it: --help, --version, `validate`, and `proxy` on a
// bad file. Runs the compiled CLI (bin/switchyard.js -> dist/cli.js).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  REPO_ROOT,
  CLI,
  freePort,
  probeConnect,
  readFixture,
  runCli,
  sleep,
  substitute,
  tempDir,
  trackProcess,
} from './harness';
import { spawn } from 'node:child_process';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

async function writeBootstrap(fixture: string, name: string): Promise<{ file: string; ports: number[] }> {
  const text = readFixture(fixture);
  const vars: Record<string, number> = {};
  for (const m of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) if (!(m[1] in vars)) vars[m[1]] = await freePort();
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, substitute(text, vars));
  return { file, ports: Object.values(vars) };
}

test('--help describes the commands and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.exitCode, 0, r.output);
  for (const word of ['proxy', 'validate', '-c']) assert.ok(r.output.includes(word), `--help should mention ${word}:\n${r.output}`);
});

test('--version prints the package version and exits 0', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.exitCode, 0, r.output);
  assert.ok(r.stdoutText.includes(pkg.version), `expected ${pkg.version} in: ${r.stdoutText}`);
});

test('validate accepts a good bootstrap', async () => {
  const { file } = await writeBootstrap('http1.yaml', 'good.yaml');
  const r = await runCli(['validate', '-c', file]);
  assert.equal(r.exitCode, 0, r.output);
});

test('validate rejects a bad bootstrap, naming the file and every error with its field path', async () => {
  const { file } = await writeBootstrap('invalid.yaml', 'several-errors.yaml');
  const r = await runCli(['validate', '-c', file]);
  assert.notEqual(r.exitCode, 0, `validate should fail:\n${r.output}`);
  assert.equal(r.signal, null, 'validate should exit, not crash on a signal');
  assert.ok(r.output.includes(path.basename(file)), `output should name the file:\n${r.output}`);

  const portPath =
    'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value';
  const lines = r.output.split('\n');
  const portLine = lines.find((l) => l.includes(portPath));
  assert.ok(portLine, `output should contain the exact path ${portPath}:\n${r.output}`);
  assert.match(portLine, /65535|70000|range|exceed|less than|at most/i, `the error for ${portPath} should say why`);

  // Every error is listed, not just the first one.
  assert.ok(
    r.output.includes('static_resources.clusters[1].connect_timeout'),
    `the bad Duration in clusters[1] should be listed too:\n${r.output}`,
  );
  assert.ok(
    r.output.includes('static_resources.listeners[0].address.socket_address.port_value'),
    `the bad listener port should be listed too:\n${r.output}`,
  );
});

test('validate on a missing file fails and names it', async () => {
  const file = path.join(tempDir(), 'does-not-exist.yaml');
  const r = await runCli(['validate', '-c', file]);
  assert.notEqual(r.exitCode, 0, r.output);
  assert.equal(r.signal, null);
  assert.ok(r.output.includes('does-not-exist.yaml'), r.output);
});

/** Runs `proxy -c file`, watching the file's ports while it lives; it must exit on its own. */
async function proxyMustFailWithoutBinding(fixture: string) {
  const { file, ports } = await writeBootstrap(fixture, path.basename(fixture));
  const child = trackProcess(spawn(process.execPath, [CLI, 'proxy', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((r) => child.once('exit', (code, signal) => ((exit = { code, signal }), r())));
  const bound: number[] = [];
  // Probe the ports until the process exits (bounded: 15 s); nothing may ever accept.
  for (let i = 0; i < 150 && !exit; i++) {
    for (const p of ports) if ((await probeConnect(p, '127.0.0.1', 500)) === 'connected') bound.push(p);
    await Promise.race([exited, sleep(100)]);
  }
  if (!exit) {
    child.kill('SIGKILL');
    await exited;
    assert.fail(`proxy on a bad bootstrap did not exit within 15 s:\n${output}`);
  }
  assert.notEqual(exit!.code, 0, `proxy on a bad bootstrap must exit non-zero:\n${output}`);
  assert.equal(exit!.signal, null, 'it should exit, not die on a signal');
  assert.deepEqual(bound, [], `nothing may be bound while it fails: ${bound.join(', ')}`);
  assert.ok(output.includes(path.basename(file)), `the error should name the file:\n${output}`);
}

test('proxy on a malformed (not YAML) file exits non-zero without binding anything', async () => {
  await proxyMustFailWithoutBinding('malformed.yaml');
});

test('proxy on an invalid bootstrap exits non-zero without binding anything', async () => {
  await proxyMustFailWithoutBinding('invalid.yaml');
});
