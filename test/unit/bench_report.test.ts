// bench/report.js as bench/run.sh calls it: wrk outputs of three interleaved rounds for
// HAProxy, the A/A control (a second HAProxy) and Switchyard go in; the table and the JSON
// must carry each round's ratio to HAProxy's run in the same round and their median.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPORT = path.resolve(__dirname, '../../bench/report.js');

function wrkOutput(rps: number, p99ms: number): string {
  return [
    'Running 10s test @ http://127.0.0.1:18010/',
    '  1 threads and 16 connections',
    '  Thread Stats   Avg      Stdev     Max   +/- Stdev',
    '    Latency   500.00us  100.00us   9.00ms   90.00%',
    '  Latency Distribution',
    '     50%  400.00us',
    '     75%  500.00us',
    '     90%  600.00us',
    `     99%    ${p99ms.toFixed(2)}ms`,
    `  ${rps * 10} requests in 10.00s, 1.00MB read`,
    `Requests/sec:  ${rps.toFixed(2)}`,
    '',
  ].join('\n');
}

test('paired rounds: per-round p99 ratios to HAProxy, their median and the rounds over 2x', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  try {
    // round -> [haproxy, haproxy-b, switchyard] as [req/s, p99 ms]
    const rounds: Record<number, [number, number][]> = {
      1: [[30000, 1.0], [31000, 0.8], [24000, 1.5]],
      2: [[20000, 4.0], [30000, 1.2], [15000, 3.0]], // a noisy round for HAProxy: its best is round 1
      3: [[32000, 1.0], [29000, 2.5], [25000, 2.2]],
    };
    const lines: string[] = [];
    for (const [round, runs] of Object.entries(rounds)) {
      ['haproxy', 'haproxy-b', 'switchyard'].forEach((proxy, i) => {
        const raw = path.join(dir, `raw-${proxy}-${round}.txt`);
        fs.writeFileSync(raw, wrkOutput(runs[i][0], runs[i][1]));
        // CPU: 3 s per 10 s run for the HAProxys (1 s of it user time), 4.5 s for Switchyard
        // (2.5 s user), in ticks of 10 ms.
        const cpuTicks = proxy === 'switchyard' ? 450 : 300;
        const usrTicks = proxy === 'switchyard' ? 250 : 100;
        lines.push(JSON.stringify({ proxy, scenario: 'l7-h1', conns: 16, round: Number(round), streams: 1, tool: 'wrk', status: 'ok', exit_code: 0, rss_kb: 1000, cpu_ticks: cpuTicks, usr_ticks: usrTicks, clk_tck: 100, raw }));
      });
    }
    fs.writeFileSync(path.join(dir, 'runs.jsonl'), lines.join('\n') + '\n');
    const out = path.join(dir, 'out.json');
    const r = spawnSync(process.execPath, [REPORT, '--runs', path.join(dir, 'runs.jsonl'), '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
    const get = (proxy: string) => doc.results.find((x: { proxy: string }) => x.proxy === proxy);

    // Switchyard: 1.5/1.0, 3.0/4.0, 2.2/1.0 -> 1.5, 0.75, 2.2; median 1.5, one round over 2x.
    const sy = get('switchyard').paired;
    assert.deepEqual(sy.latency_ratios.map((x: number) => +x.toFixed(3)), [1.5, 0.75, 2.2]);
    assert.equal(+sy.latency_ratio_median.toFixed(3), 1.5);
    assert.equal(sy.rounds_over_2x, 1);
    assert.equal(+sy.rps_ratio_median.toFixed(3), 0.781); // 0.8, 0.75, 0.78125
    // CPU per request: 1.5x the CPU over 0.8x, 0.75x, 0.78125x the requests -> 1.875, 2, 1.92
    assert.equal(+sy.cpu_ratio_median.toFixed(3), 1.92);
    // The control: 0.8, 0.3, 2.5 -> median 0.8, one round over 2x.
    const b = get('haproxy-b').paired;
    assert.equal(+b.latency_ratio_median.toFixed(3), 0.8);
    assert.equal(b.rounds_over_2x, 1);
    // HAProxy is the baseline and gets no paired ratios of its own.
    assert.equal(get('haproxy').paired, undefined);
    // The best-round figures stay as they were: Switchyard's round 3 against HAProxy's round 3.
    assert.equal(get('switchyard').best_round, 3);
    assert.equal(+get('switchyard').p99_ratio_vs_haproxy.toFixed(3), 2.2);
    // CPU per request of that round and its user part: 4.5 s and 2.5 s over 250,000 requests.
    assert.equal(+get('switchyard').cpu_us_per_rq.toFixed(2), 18);
    assert.equal(+get('switchyard').usr_us_per_rq.toFixed(2), 10);
    assert.match(r.stdout, /switchyard\s+25,000\s.*\s18\.0us \(usr 10\.0\)/);

    assert.match(r.stdout, /Paired rounds/);
    assert.match(r.stdout, /L7 HTTP\/1\.1 keep-alive c16\s+switchyard\s+3\s+0\.78x\s+1\.50x\s+0\.75-2\.20\s+1\/3\s+1\.92x/);
    assert.match(r.stdout, /L7 HTTP\/1\.1 keep-alive c16\s+haproxy-b\s+3\s+/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a single round gives no paired table', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  try {
    const lines = ['haproxy', 'switchyard'].map((proxy, i) => {
      const raw = path.join(dir, `raw-${proxy}.txt`);
      fs.writeFileSync(raw, wrkOutput(30000 - i * 5000, 1 + i));
      return JSON.stringify({ proxy, scenario: 'l7-h1', conns: 16, round: 1, streams: 1, tool: 'wrk', status: 'ok', exit_code: 0, raw });
    });
    fs.writeFileSync(path.join(dir, 'runs.jsonl'), lines.join('\n') + '\n');
    const r = spawnSync(process.execPath, [REPORT, '--runs', path.join(dir, 'runs.jsonl')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /Paired rounds/);
    assert.match(r.stdout, /switchyard\s+25,000/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
