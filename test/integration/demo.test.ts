// `node bin/switchyard.js demo` — what `npm start` (the README's first command) runs: three
// demo services, the reference control plane serving xds/demo/mesh.yaml and the proxy
// configured by it over ADS (xds/demo/sidecar.yaml), then a list of curl lines to
// try. This test runs it like a user, checks that each line it prints does what its
// comment says, then stops it with Ctrl-C (SIGINT) and checks that it is gone and its
// ports are free. The demo uses fixed ports; if any is taken the test is skipped.
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CLI, REPO_ROOT, curl, httpRequest, sleep, trackSocket, waitFor } from './harness';

const PORTS = [9901, 10000, 10001, 10101, 10102, 10103, 18000, 18001];
const WEB = 'http://127.0.0.1:10000';
const ADMIN = 'http://127.0.0.1:9901';

/** Resolves true if 127.0.0.1:port can be bound right now (nothing holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** PIDs whose parent is pid (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(ent));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

function json(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`expected JSON from a demo service, got: ${body.subarray(0, 300).toString()}`);
  }
}

let demo: ChildProcess | null = null;
let demoExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
let stdout = '';
let stderr = '';
/** The demo's own child processes (the proxy), recorded so cleanup can reach them by PID. */
let demoChildren: number[] = [];

// Cleanup even when a test fails: Ctrl-C the demo, then SIGKILL it and its proxy by PID.
after(async () => {
  if (demo !== null && demo.exitCode === null && demo.signalCode === null) {
    if (demo.pid !== undefined) demoChildren.push(...childrenOf(demo.pid));
    demo.kill('SIGINT');
    await Promise.race([demoExit, sleep(10_000)]);
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  }
  for (const pid of demoChildren) {
    if (pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});

/** A TCP round trip like `echo hello | nc -N host port`: send, half-close, read until close. */
function echoRoundTrip(port: number, data: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = trackSocket(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`echo: no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, timeoutMs);
    s.on('connect', () => s.end(data));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

describe('switchyard demo (npm start)', async () => {
  const busy: number[] = [];
  for (const p of PORTS) if (!(await portFree(p))) busy.push(p);
  const skip = busy.length > 0 ? `the demo needs fixed ports that are in use here: ${busy.join(', ')}` : false;

  /** The demo printed a line containing `cmd` (so the instructions match what is tested). */
  const printed = (cmd: string) => assert.ok(stdout.includes(cmd), `the demo should print "${cmd}"; it printed:\n${stdout}`);

  test('starts, becomes ready and prints the curl lines', { skip }, async () => {
    demo = spawn(process.execPath, [CLI, 'demo'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    demoExit = new Promise((r) => demo!.once('exit', (code, signal) => r({ code, signal })));
    demo.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    demo.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await waitFor(
      'admin /ready = 200 on :9901',
      async () => {
        if (demo!.exitCode !== null) throw new Error(`the demo exited (${demo!.exitCode}):\n${stderr}`);
        return (await httpRequest(`${ADMIN}/ready`, { timeoutMs: 2000 })).status === 200;
      },
      { attempts: 200, intervalMs: 100 },
    );
    demoChildren = childrenOf(demo.pid!);
    assert.ok(demoChildren.length >= 1, 'the demo runs the proxy as a child process');
    await waitFor('the demo to print its curl lines', () => stdout.includes('config_dump'), { attempts: 100, intervalMs: 100 });
    printed('Ctrl-C to stop');
  });

  test('/hello goes to web-v1', { skip }, async () => {
    printed('curl -s localhost:10000/hello ');
    const r = await curl([`${WEB}/hello`]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).service, 'web-v1');
    assert.equal(json(r.body).path, '/hello');
    assert.equal(r.headers['x-served-by'], 'switchyard');
  });

  test('/v2/hello goes to web-v2, which sees /hello', { skip }, async () => {
    printed('curl -s localhost:10000/v2/hello');
    const r = await curl([`${WEB}/v2/hello`]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).service, 'web-v2');
    assert.equal(json(r.body).path, '/hello');
  });

  test('x-canary: true goes to web-v2', { skip }, async () => {
    printed("curl -s -H 'x-canary: true' localhost:10000/hello");
    const r = await curl(['-H', 'x-canary: true', `${WEB}/hello`]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).service, 'web-v2');
    assert.equal(json(r.body).headers['x-canary'], 'true');
  });

  test('/split is answered by web-v1 or web-v2', { skip }, async () => {
    printed('localhost:10000/split');
    for (let i = 0; i < 10; i++) {
      const r = await curl([`${WEB}/split`]);
      assert.equal(r.status, 200, r.raw.toString());
      assert.ok(['web-v1', 'web-v2'].includes(json(r.body).service), r.body.toString());
    }
  });

  test('/old/page redirects with 302', { skip }, async () => {
    printed('curl -si localhost:10000/old/page');
    const r = await curl([`${WEB}/old/page`]);
    assert.equal(r.status, 302, r.raw.toString());
    assert.ok(r.headers['location'], 'a redirect needs a Location');
    assert.equal(new URL(r.headers['location'], WEB).pathname, '/');
  });

  test('/health is a direct response "ok"', { skip }, async () => {
    printed('curl -s localhost:10000/health');
    const r = await curl([`${WEB}/health`]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(r.body.toString(), 'ok\n');
  });

  test('HTTP/2 with prior knowledge (h2c) works', { skip }, async () => {
    printed('curl -s --http2-prior-knowledge localhost:10000/h2');
    const r = await curl(['--http2-prior-knowledge', `${WEB}/h2`]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.match(r.statusLine, /^HTTP\/2 /, `expected an HTTP/2 response, got ${r.statusLine}`);
    assert.equal(json(r.body).service, 'web-v1');
  });

  test('the TCP listener on 10001 echoes through tcp_proxy', { skip }, async () => {
    printed('echo hello | curl -s --max-time 1 telnet://localhost:10001');
    assert.equal(await echoRoundTrip(10001, 'hello\n'), 'hello\n');
  });

  test('the admin endpoint shows the demo stats, clusters and config', { skip }, async () => {
    printed('curl -s localhost:9901/stats | grep demo_');
    const stats = await httpRequest(`${ADMIN}/stats`);
    assert.equal(stats.status, 200);
    const text = stats.body.toString();
    assert.match(text, /^http\.demo_http\.downstream_rq_total: [1-9]\d*$/m, 'the requests above should be counted');
    assert.match(text, /^tcp\.demo_tcp\./m);
    printed('curl -s localhost:9901/clusters');
    const clusters = (await httpRequest(`${ADMIN}/clusters`)).body.toString();
    for (const c of ['web_v1::', 'web_v2::', 'echo::']) assert.ok(clusters.includes(c), `/clusters should list ${c}\n${clusters}`);
    printed('curl -s localhost:9901/config_dump');
    const dump = await httpRequest(`${ADMIN}/config_dump`);
    assert.equal(dump.status, 200);
    assert.ok(dump.body.toString().includes('web_http'), 'config_dump should show the web_http listener');
  });

  test('editing xds/demo/mesh.yaml while the demo runs changes the route live', { skip }, async () => {
    const mesh = path.join(REPO_ROOT, 'xds', 'demo', 'mesh.yaml');
    const original = fs.readFileSync(mesh, 'utf8');
    const write = (text: string) => {
      fs.writeFileSync(mesh + '.tmp', text);
      fs.renameSync(mesh + '.tmp', mesh);
    };
    const edited = original.replace('- { name: web_v1, weight: 80 }', '- { name: web_v1, weight: 0 }').replace('- { name: web_v2, weight: 20 }', '- { name: web_v2, weight: 100 }');
    assert.notEqual(edited, original, 'the demo mesh has the 80/20 split this test edits');
    try {
      write(edited);
      // Ten /split requests in a row reach web-v2 once the new weights are in force.
      await waitFor('the split to send everything to web-v2', async () => {
        for (let i = 0; i < 10; i++) if (json((await curl([`${WEB}/split`])).body).service !== 'web-v2') return false;
        return true;
      }, { attempts: 100, intervalMs: 100 });
    } finally {
      write(original);
    }
  });

  test('Ctrl-C (SIGINT) stops the demo and its proxy, and frees every port', { skip }, async () => {
    assert.ok(demo !== null && demoExit !== null, 'the demo is not running');
    const proxies = demoChildren.length > 0 ? demoChildren : childrenOf(demo.pid!);
    demo.kill('SIGINT');
    const exit = await Promise.race([demoExit, sleep(20_000).then(() => null)]);
    assert.ok(exit, `the demo did not exit within 20 s of SIGINT; stderr:\n${stderr.slice(-2000)}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `stderr:\n${stderr.slice(-2000)}`);
    for (const pid of proxies) {
      await waitFor(`the demo's child ${pid} to exit`, () => !pidAlive(pid), { attempts: 100, intervalMs: 100 });
    }
    for (const p of PORTS) await waitFor(`port ${p} to be free`, () => portFree(p), { attempts: 50, intervalMs: 100 });
  });
});
