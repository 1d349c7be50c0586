// --concurrency 2: the proxy runs as a primary process (admin) plus two worker processes
// sharing the listener. What a user sees: every request answered, the admin /stats and
// /clusters showing the sum over the workers (as Envoy's per-thread stats are summed), the
// hosts an ORIGINAL_DST cluster made in either worker listed in /clusters, two
// worker processes that are children of the proxy, and SIGTERM ending the whole tree with
// exit status 0 and no process left behind.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { HttpBackend, Proxy, curlRaw, exec, readFixture, startHttpBackend, startProxy, waitFor } from './harness';

const TOTAL = 200;
const CLIENTS = 4; // curl processes at a time, TOTAL / CLIENTS URLs each

let backend: HttpBackend;
/** Reached through the ORIGINAL_DST cluster only. */
let odBackend: HttpBackend;
let proxy: Proxy;

/** Child processes of pid, from `ps`: [pid, command line]. */
async function childProcesses(pid: number): Promise<{ pid: number; args: string }[]> {
  const r = await exec('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { timeoutMs: 10_000 });
  return r.stdout
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\d+)\s+(.*)$/.exec(l)!;
      return { pid: Number(m[1]), args: m[2] };
    });
}

/** Parent PID of pid from /proc/<pid>/stat, or null if there is no such process. */
function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

describe('--concurrency 2', () => {
  before(async () => {
    backend = await startHttpBackend('backend');
    odBackend = await startHttpBackend('od');
    proxy = await startProxy(readFixture('concurrency.yaml'), { concurrency: 2, vars: { BACKEND_PORT: backend.port } });
  });

  let workers: { pid: number; args: string }[] = [];

  test('two worker processes run as children of the proxy process', async () => {
    workers = await childProcesses(proxy.pid);
    assert.equal(workers.length, 2, `expected 2 worker processes under PID ${proxy.pid}, ps shows: ${JSON.stringify(workers)}`);
    for (const w of workers) {
      assert.match(w.args, /switchyard/, `worker ${w.pid} should be a switchyard process: ${w.args}`);
      assert.equal(parentOf(w.pid), proxy.pid, `/proc/${w.pid}/stat should name the proxy as parent`);
    }
  });

  test(`${TOTAL} requests on fresh connections are all answered 200`, async () => {
    const base = `http://127.0.0.1:${proxy.port('LISTENER_PORT')}`;
    const per = TOTAL / CLIENTS;
    const runs = [];
    for (let c = 0; c < CLIENTS; c++) {
      const args = ['-H', 'Connection: close', '-w', '%{http_code} %{num_connects}\\n'];
      for (let i = 0; i < per; i++) args.push('-o', '/dev/null', `${base}/conc/${c}/${i}`);
      runs.push(curlRaw(args, { timeoutMs: 120_000 }));
    }
    const results = await Promise.all(runs);
    const lines: string[] = [];
    for (const r of results) {
      assert.equal(r.exitCode, 0, r.stderr);
      lines.push(...r.out.trim().split('\n'));
    }
    assert.equal(lines.length, TOTAL);
    const notOk = lines.filter((l) => l !== '200 1');
    assert.deepEqual(notOk, [], 'every request should be answered 200 on a connection of its own');
    assert.equal(backend.requests.filter((r) => r.url.startsWith('/conc/')).length, TOTAL, 'the backend should see every request once');
  });

  test('both workers took part: each holds an upstream connection to the backend (ss -tnp)', async () => {
    // Otherwise the sums below would prove nothing about adding up the workers.
    const r = await exec('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${backend.port}`], { timeoutMs: 10_000 });
    const out = r.stdout.toString('utf8');
    assert.equal(workers.length, 2, 'the worker processes were not found');
    for (const w of workers) {
      assert.match(out, new RegExp(`pid=${w.pid},`), `worker ${w.pid} holds no connection to the backend; ss shows:\n${out}`);
    }
  });

  test(`admin /stats sums the workers: http.conc_http.downstream_rq_2xx = ${TOTAL}`, async () => {
    const name = 'http.conc_http.downstream_rq_2xx';
    let last: number | undefined;
    await waitFor(
      `${name} = ${TOTAL}`,
      async () => {
        last = (await proxy.stats()).get(name);
        return last === TOTAL;
      },
      { attempts: 30, intervalMs: 200 },
    ).catch(() => undefined);
    assert.equal(last, TOTAL, `${name} should be the sum over both workers`);
  });

  test(`admin /clusters shows rq_total ${TOTAL} for the backend host`, async () => {
    const line = `backend::127.0.0.1:${backend.port}::rq_total::`;
    let text = '';
    await waitFor(
      'rq_total in /clusters',
      async () => {
        text = (await proxy.admin('/clusters')).body;
        return text.includes(line + TOTAL + '\n') || text.endsWith(line + TOTAL);
      },
      { attempts: 30, intervalMs: 200 },
    ).catch(() => undefined);
    const found = text.split('\n').find((l) => l.startsWith(line));
    assert.equal(found, line + TOTAL, `/clusters:\n${text}`);
  });

  test('ORIGINAL_DST hosts made in either worker are listed in /clusters, rq_total summed', async () => {
    const base = `http://127.0.0.1:${proxy.port('LISTENER_PORT')}`;
    const holders = async () => {
      const r = await exec('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${odBackend.port}`], { timeoutMs: 10_000 });
      return workers.filter((w) => r.stdout.toString('utf8').includes(`pid=${w.pid},`)).length;
    };
    // Batches of 40 requests on fresh connections, each naming the od backend as where it was
    // going, until both workers made the host (each holds a pooled connection to it), so that
    // the count below adds two workers' counts; three batches at most.
    let n = 0;
    for (let batch = 0; batch < 3 && (batch === 0 || (await holders()) < 2); batch++) {
      const runs = [];
      for (let c = 0; c < CLIENTS; c++) {
        const args = ['-H', 'Connection: close', '-H', `x-envoy-original-dst-host: 127.0.0.1:${odBackend.port}`, '-w', '%{http_code}\\n'];
        for (let i = 0; i < 10; i++) args.push('-o', '/dev/null', `${base}/od/${batch}/${c}/${i}`);
        runs.push(curlRaw(args, { timeoutMs: 60_000 }));
      }
      const codes = (await Promise.all(runs)).flatMap((r) => r.out.trim().split('\n'));
      assert.deepEqual(codes.filter((x) => x !== '200'), [], 'every request through the ORIGINAL_DST cluster should be answered 200');
      n += codes.length;
    }
    assert.equal(await holders(), 2, 'both workers should hold a connection to the od backend');
    assert.equal(odBackend.requests.length, n);
    const line = `passthrough::127.0.0.1:${odBackend.port}::rq_total::`;
    const clusters = (await proxy.admin('/clusters')).body;
    assert.equal(clusters.split('\n').find((l) => l.startsWith(line)), line + n, `/clusters:\n${clusters}`);
  });

  test('SIGTERM: the proxy and both workers exit, status 0, no process left', async () => {
    if (workers.length === 0) workers = await childProcesses(proxy.pid);
    assert.equal(workers.length, 2);
    const exit = await proxy.stop('SIGTERM', 30_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `proxy stderr:\n${proxy.stderr().slice(-3000)}`);
    for (const w of workers) {
      // Gone, or (PID reused) no longer a child of the proxy.
      await waitFor(`worker ${w.pid} to exit`, () => parentOf(w.pid) !== proxy.pid, { attempts: 50, intervalMs: 100 });
      const cmd = (() => {
        try {
          return fs.readFileSync(`/proc/${w.pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })();
      assert.ok(!cmd.includes(proxy.configPath), `worker ${w.pid} is still running: ${cmd}`);
    }
  });
});
