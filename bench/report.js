#!/usr/bin/env node
'use strict';
// Parses the raw wrk / h2load outputs recorded by bench/run.sh, prints the
// comparison table and writes the JSON results file.
//
//   node bench/report.js --runs runs.jsonl --out results/<stamp>.json [--meta k=v ...]
//   node bench/report.js --print results/<stamp>.json      (re-print a saved run)

const fs = require('fs');

const SCENARIO_LABEL = {
  'l4-h1': 'L4 TCP (HTTP/1.1 keep-alive)',
  'l7-h1': 'L7 HTTP/1.1 keep-alive',
  'l7-h2': 'L7 HTTP/2 (h2c)',
};
const PROXY_ORDER = ['direct', 'haproxy', 'haproxy-b', 'nginx', 'node-floor', 'switchyard'];
const BASELINE = 'haproxy';
const METRICS = ['rps', 'p50_ms', 'p75_ms', 'p90_ms', 'p99_ms', 'mean_ms', 'rss_kb', 'hwm_kb', 'cpu_us_per_rq', 'usr_us_per_rq'];
// How rounds are combined: 'best' (default: the round with the highest req/s;
// background load on a shared machine only ever slows a run down) or 'median'.
let AGG = process.env.BENCH_AGG === 'median' ? 'median' : 'best';

function toMs(value, unit) {
  const v = parseFloat(value);
  if (!Number.isFinite(v)) return null;
  switch (unit) {
    case 'us': return v / 1000;
    case 'ms': return v;
    case 's': return v * 1000;
    case 'm': return v * 60000;
    default: return null;
  }
}

function parseWrk(text) {
  const r = { rps: null, p50_ms: null, p75_ms: null, p90_ms: null, p99_ms: null, mean_ms: null,
    requests: null, errors: 0, non2xx: 0, socket_errors: null };
  let m = text.match(/Requests\/sec:\s+([\d.]+)/);
  if (m) r.rps = parseFloat(m[1]);
  m = text.match(/^\s*Latency\s+([\d.]+)(us|ms|s|m)\b/m);
  if (m) r.mean_ms = toMs(m[1], m[2]);
  for (const p of ['50', '75', '90', '99']) {
    m = text.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\b`, 'm'));
    if (m) r[`p${p}_ms`] = toMs(m[1], m[2]);
  }
  m = text.match(/(\d+) requests in/);
  if (m) r.requests = parseInt(m[1], 10);
  m = text.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  if (m) r.non2xx = parseInt(m[1], 10);
  m = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (m) r.socket_errors = { connect: +m[1], read: +m[2], write: +m[3], timeout: +m[4] };
  r.errors = r.non2xx + (r.socket_errors ? r.socket_errors.connect + r.socket_errors.read +
    r.socket_errors.write + r.socket_errors.timeout : 0);
  return r;
}

function parseH2load(text) {
  const r = { rps: null, p50_ms: null, p99_ms: null, mean_ms: null, max_ms: null, requests: null,
    succeeded: null, errors: 0 };
  let m = text.match(/finished in [\d.]+\w*, ([\d.]+) req\/s/);
  if (m) r.rps = parseFloat(m[1]);
  m = text.match(/requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/);
  if (m) {
    r.requests = +m[3]; r.succeeded = +m[4];
    r.errors = +m[5] + +m[6] + +m[7];
  }
  m = text.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
  if (m) r.errors += +m[3] + +m[4];
  const u = '([\\d.]+)(us|ms|s)';
  m = text.match(new RegExp(`time for request:\\s+${u}\\s+${u}\\s+${u}`));
  if (m) { r.max_ms = toMs(m[3], m[4]); r.mean_ms = toMs(m[5], m[6]); }
  return r;
}

function fmtNum(n) {
  if (n == null) return '-';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
function fmtMs(ms) {
  if (ms == null) return '-';
  if (ms < 1) return `${(ms * 1000).toFixed(0)}us`;
  if (ms < 100) return `${ms.toFixed(2)}ms`;
  return `${ms.toFixed(0)}ms`;
}
function fmtKb(kb) {
  if (!kb) return '-';
  return kb >= 1024 ? `${(kb / 1024).toFixed(1)}MB` : `${kb}KB`;
}
function fmtRatio(x) { return x == null ? '-' : `${x.toFixed(2)}x`; }

function table(rows, headers) {
  const cells = [headers, ...rows];
  const w = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function median(xs) {
  const v = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function parseRun(run) {
  const out = { ...run };
  delete out.raw;
  if (run.status === 'ok' && run.raw_output != null) { // from a saved results file: parse again
    Object.assign(out, run.tool === 'h2load' ? parseH2load(run.raw_output) : parseWrk(run.raw_output));
  } else if (run.status === 'ok') {
    let text = '';
    try { text = fs.readFileSync(run.raw, 'utf8'); } catch (e) { text = ''; }
    Object.assign(out, run.tool === 'h2load' ? parseH2load(text) : parseWrk(text));
    out.raw_output = text;
    if (out.rps == null) { out.status = 'error'; out.reason = `could not parse ${run.tool} output`; }
  }
  // The proxy's CPU time (user + system, its whole process tree) per request over the
  // measured run: less sensitive to other work on the machine than req/s.
  if (out.status === 'ok' && out.cpu_ticks != null && out.clk_tck && out.requests) {
    out.cpu_us_per_rq = (out.cpu_ticks / out.clk_tck) * 1e6 / out.requests;
    // Of which user time (the proxy's own code and its runtime; the rest is the kernel's).
    if (out.usr_ticks != null) out.usr_us_per_rq = (out.usr_ticks / out.clk_tck) * 1e6 / out.requests;
  }
  return out;
}

// One result per (proxy, scenario, conns) over the rounds that produced numbers
// (see AGG); every round is kept under `rounds`.
function buildResults(runs) {
  const groups = new Map();
  for (const run of runs.map(parseRun)) {
    const key = `${run.proxy}|${run.scenario}|${run.conns}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(run);
  }
  const results = [];
  for (const list of groups.values()) {
    const ok = list.filter((r) => r.status === 'ok');
    const first = list[0];
    if (!ok.length) {
      const bad = list.find((r) => r.status !== 'ok') || first;
      results.push({ proxy: first.proxy, scenario: first.scenario, conns: first.conns, streams: first.streams,
        status: bad.status, reason: bad.reason, log: bad.log || undefined, rounds: list });
      continue;
    }
    const r = { proxy: first.proxy, scenario: first.scenario, conns: first.conns, streams: ok[0].streams,
      tool: ok[0].tool, status: 'ok', n_rounds: ok.length };
    if (AGG === 'best') { // the round with the highest req/s, all its numbers together
      const best = ok.reduce((a, x) => ((x.rps || 0) > (a.rps || 0) ? x : a), ok[0]);
      for (const f of METRICS) r[f] = best[f];
      r.best_round = best.round;
    } else {
      for (const f of METRICS) r[f] = median(ok.map((x) => x[f]));
    }
    r.aggregate = ok.length > 1 ? AGG : 'single';
    r.errors = ok.reduce((a, x) => a + (x.errors || 0), 0);
    r.exit_code = ok.reduce((a, x) => a || x.exit_code || 0, 0);
    const failedRounds = list.length - ok.length;
    if (failedRounds) r.reason = `${failedRounds} round(s) failed`;
    r.rounds = list;
    results.push(r);
  }
  // ratios against HAProxy within each (scenario, conns) group
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const base = results.find((b) => b.proxy === BASELINE && b.scenario === r.scenario &&
      b.conns === r.conns && b.status === 'ok');
    if (!base) continue;
    r.rps_ratio_vs_haproxy = base.rps ? r.rps / base.rps : null;
    r.cpu_ratio_vs_haproxy = r.cpu_us_per_rq != null && base.cpu_us_per_rq ? r.cpu_us_per_rq / base.cpu_us_per_rq : null;
    if (r.p99_ms != null && base.p99_ms) {
      r.p99_ratio_vs_haproxy = r.p99_ms / base.p99_ms; r.latency_ratio_basis = 'p99';
    } else if (r.mean_ms != null && base.mean_ms) { // h2load has no percentiles: use the mean
      r.p99_ratio_vs_haproxy = r.mean_ms / base.mean_ms; r.latency_ratio_basis = 'mean';
    }
  }
  for (const r of results) pairRounds(r, results);
  return results;
}

// The latency a ratio compares: p99, or the mean for h2load (it prints no percentiles).
function latencyOf(x) {
  return x.p99_ms != null ? x.p99_ms : x.mean_ms;
}

// Paired rounds: each round's ratio to HAProxy's run in the same round (measured
// back to back, so both saw about the same background load), summarised by the
// median over rounds. A second, identical HAProxy (haproxy-b) gives the same
// figures for HAProxy against itself: the noise floor of the run.
function pairRounds(r, results) {
  if (r.status !== 'ok' || r.proxy === BASELINE || !r.rounds || r.rounds.length < 2) return;
  const base = results.find((b) => b.proxy === BASELINE && b.scenario === r.scenario && b.conns === r.conns);
  if (!base || !base.rounds) return;
  const lat = [], rps = [], cpu = [];
  for (const x of r.rounds) {
    const b = base.rounds.find((y) => y.round === x.round);
    if (!b || x.status !== 'ok' || b.status !== 'ok') continue;
    const lx = latencyOf(x), lb = latencyOf(b);
    if (lx != null && lb) lat.push(lx / lb);
    if (x.rps != null && b.rps) rps.push(x.rps / b.rps);
    if (x.cpu_us_per_rq != null && b.cpu_us_per_rq) cpu.push(x.cpu_us_per_rq / b.cpu_us_per_rq);
  }
  if (lat.length < 2) return;
  r.paired = {
    rounds: lat.length,
    rps_ratio_median: median(rps),
    cpu_ratio_median: median(cpu),
    latency_basis: r.tool === 'h2load' ? 'mean' : 'p99',
    latency_ratio_median: median(lat),
    latency_ratio_min: Math.min(...lat),
    latency_ratio_max: Math.max(...lat),
    rounds_over_2x: lat.filter((x) => x > 2).length,
    latency_ratios: lat,
  };
}

function renderPaired(sorted) {
  const rows = [];
  let prev = null;
  for (const r of sorted) {
    if (!r.paired) continue;
    const key = `${r.scenario}/${r.conns}`;
    if (prev && prev !== key) rows.push(['', '', '', '', '', '', '', '']);
    prev = key;
    const p = r.paired;
    const basis = r.tool === 'h2load' ? ' (mean)' : '';
    rows.push([
      `${SCENARIO_LABEL[r.scenario] || r.scenario} c${r.conns}${r.streams > 1 ? ` m${r.streams}` : ''}`,
      r.proxy, String(p.rounds), fmtRatio(p.rps_ratio_median), fmtRatio(p.latency_ratio_median) + basis,
      `${p.latency_ratio_min.toFixed(2)}-${p.latency_ratio_max.toFixed(2)}`, `${p.rounds_over_2x}/${p.rounds}`,
      r.proxy === 'direct' ? '-' : fmtRatio(p.cpu_ratio_median),
    ]);
  }
  if (!rows.length) return '';
  return '\nPaired rounds: each round\'s ratio to HAProxy\'s run in the same round, median over the rounds.\n' +
    'haproxy-b is a second, identical HAProxy process: its ratios are this run\'s noise floor.\n\n' +
    table(rows, ['scenario', 'proxy', 'rounds', 'req/s vs HAProxy', 'p99 vs HAProxy', 'p99 ratio range', 'rounds p99 > 2x',
      'CPU/rq vs HAProxy']) + '\n';
}

function render(doc) {
  const results = doc.results;
  const order = (r) => [Object.keys(SCENARIO_LABEL).indexOf(r.scenario), r.conns,
    PROXY_ORDER.indexOf(r.proxy) < 0 ? 99 : PROXY_ORDER.indexOf(r.proxy)];
  const sorted = [...results].sort((a, b) => {
    const x = order(a), y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  });
  const rows = [];
  let prev = null;
  for (const r of sorted) {
    const key = `${r.scenario}/${r.conns}`;
    if (prev && prev !== key) rows.push(['', '', '', '', '', '', '', '', '', '', '', '']);
    prev = key;
    const scen = `${SCENARIO_LABEL[r.scenario] || r.scenario} c${r.conns}${r.streams > 1 ? ` m${r.streams}` : ''}`;
    if (r.status !== 'ok') {
      rows.push([scen, r.proxy, r.status === 'failed' ? 'FAILED' : r.status.toUpperCase(), '', '', '', '', '', '', '', '',
        r.reason || '']);
      continue;
    }
    const latBasis = r.latency_ratio_basis === 'mean' ? ' (mean)' : '';
    rows.push([
      scen, r.proxy, fmtNum(r.rps),
      r.tool === 'h2load' ? `mean ${fmtMs(r.mean_ms)}` : fmtMs(r.p50_ms),
      r.tool === 'h2load' ? '-' : fmtMs(r.p99_ms),
      fmtKb(r.rss_kb),
      fmtRatio(r.rps_ratio_vs_haproxy),
      r.p99_ratio_vs_haproxy == null ? '-' : fmtRatio(r.p99_ratio_vs_haproxy) + latBasis,
      r.cpu_us_per_rq == null || r.proxy === 'direct' ? '-' : `${r.cpu_us_per_rq.toFixed(1)}us` +
        (r.usr_us_per_rq == null ? '' : ` (usr ${r.usr_us_per_rq.toFixed(1)})`),
      r.cpu_ratio_vs_haproxy == null || r.proxy === 'direct' ? '-' : fmtRatio(r.cpu_ratio_vs_haproxy),
      r.errors ? String(r.errors) : '0',
      [r.exit_code ? `exit ${r.exit_code}` : '', r.reason || ''].filter(Boolean).join('; '),
    ]);
  }
  const m = doc.meta || {};
  const head = [
    `Switchyard benchmark ${doc.timestamp}  (${m.duration}s per run after ${m.warmup}s warm-up;` +
      (m.rounds > 1 ? ` ${m.aggregate === 'median' ? 'median' : 'best'} of ${m.rounds} interleaved rounds;` : '') +
      ` proxy on CPU ${m.proxy_cpu}, client on CPU ${m.client_cpu}, backend on CPU ${m.backend_cpu})`,
    `${m.haproxy || ''} | ${m.nginx || ''} | ${m.wrk || ''} | node ${m.node || ''}`,
    '',
  ].join('\n');
  return head + table(rows, ['scenario', 'proxy', 'req/s', 'p50', 'p99', 'RSS', 'req/s vs HAProxy',
    'p99 vs HAProxy', 'CPU/rq (user)', 'CPU/rq vs HAProxy', 'errors', 'note']) +
    '\n\nreq/s vs HAProxy > 1 is faster than HAProxy; p99 vs HAProxy < 1 is lower (better) tail latency.' +
    '\n"direct" is wrk straight to the backend (no proxy): the ceiling of this setup; its RSS is the backend nginx.' +
    '\n"node-floor" is a Node byte pipe that parses nothing (bench/node-floor.js): the least a Node proxy costs here.\n' +
    renderPaired(sorted);
}

function main(argv) {
  const args = { meta: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') args.runs = argv[++i];
    else if (a === '--out') args.out = argv[++i];
    else if (a === '--meta') args.meta.push(argv[++i]);
    else if (a === '--print') args.print = argv[++i];
    else { console.error(`report.js: unknown argument ${a}`); process.exit(2); }
  }
  if (args.print) { // re-render a saved run, re-aggregating its rounds (BENCH_AGG=best|median)
    const doc = JSON.parse(fs.readFileSync(args.print, 'utf8'));
    const rounds = doc.results.flatMap((r) => (r.rounds && r.rounds.length ? r.rounds : [r]));
    doc.meta = { ...(doc.meta || {}), aggregate: AGG };
    doc.results = buildResults(rounds);
    process.stdout.write(render(doc));
    return;
  }
  if (!args.runs) { console.error('usage: report.js --runs runs.jsonl --out file.json [--meta k=v]...'); process.exit(2); }
  const runs = fs.readFileSync(args.runs, 'utf8').split('\n').filter((l) => l.trim())
    .map((l, i) => {
      try { return JSON.parse(l); } catch (e) { throw new Error(`${args.runs}:${i + 1}: ${e.message}`); }
    });
  const meta = {};
  for (const kv of args.meta) {
    const j = kv.indexOf('=');
    const k = kv.slice(0, j), v = kv.slice(j + 1);
    meta[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  meta.aggregate = AGG;
  const doc = { timestamp: new Date().toISOString(), meta, results: buildResults(runs) };
  process.stdout.write(render(doc));
  if (args.out) {
    fs.writeFileSync(args.out, JSON.stringify(doc, null, 2) + '\n');
    console.log(`\nresults: ${args.out}`);
  }
}

main(process.argv.slice(2));
