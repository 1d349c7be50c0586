#!/usr/bin/env node
// Load-balancer micro-benchmark (not a test): the cost of one pick for each policy at 10,
// 1,000 and 10,000 hosts, the cost of hashing a request key, and picker rebuild times for
// ring hash (1,024 and 8M entries) and Maglev (65,537). Runs the compiled code in dist/
// (`npx tsc -p tsconfig.json` first), in-process, on nothing but CPU.
//
//   node bench/lb_pick.js             # about 30-60 s; prints a table
//
// Targets (issue 4): a pick under 1 µs for every policy at 10,000 hosts; a ring-hash
// rebuild for 1,000 hosts under 50 ms.
'use strict';
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const { Host } = require(path.join(dist, 'upstream/host'));
const { DEFAULT_LB_CONFIG } = require(path.join(dist, 'upstream/lb/config'));
const { roundRobin } = require(path.join(dist, 'upstream/lb/round_robin'));
const { leastRequest } = require(path.join(dist, 'upstream/lb/least_request'));
const { randomLb } = require(path.join(dist, 'upstream/lb/random'));
const { ringHash } = require(path.join(dist, 'upstream/lb/ring_hash'));
const { maglev } = require(path.join(dist, 'upstream/lb/maglev'));
const { h64, xxh64String } = require(path.join(dist, 'upstream/lb/xxhash64'));

function hosts(n, weighted) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const h = new Host(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 8080, weighted ? 1 + (i % 5) : 1, 'HEALTHY', 0, undefined);
    if (!weighted) h.stats.rq_active = i % 3;
    out.push(h);
  }
  return out;
}
const build = (f, hs, over = {}) => f.build(hs, { config: { ...DEFAULT_LB_CONFIG, ...over }, overprovisioningFactor: 140, stats: null });

// Precomputed request hashes, so a pick measures the pick only.
const N_KEYS = 1 << 16;
const HI = new Uint32Array(N_KEYS), LO = new Uint32Array(N_KEYS);
for (let i = 0; i < N_KEYS; i++) {
  xxh64String(`user-${i}`);
  HI[i] = h64.hi;
  LO[i] = h64.lo;
}

function nsPerPick(lb, hashed) {
  const ctx = { hashSet: true, hashHi: 0, hashLo: 0 };
  const iters = 2_000_000;
  let sink = 0;
  for (let round = 0; round < 2; round++) { // round 0 warms up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) {
      if (hashed) {
        const k = i & (N_KEYS - 1);
        ctx.hashHi = HI[k];
        ctx.hashLo = LO[k];
      }
      const h = lb.pick(hashed ? ctx : null);
      if (h !== null) sink += h.port;
    }
    const dt = Number(process.hrtime.bigint() - t0);
    if (round === 1) return { ns: dt / iters, sink };
  }
}

function ms(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

const results = { picks: [], hash: null, rebuild: [] };
const policies = [
  ['ROUND_ROBIN', roundRobin, {}, false, false],
  ['ROUND_ROBIN weighted (EDF)', roundRobin, {}, true, false],
  ['LEAST_REQUEST (2 choices)', leastRequest, { policy: 'LEAST_REQUEST' }, false, false],
  ['LEAST_REQUEST weighted (EDF)', leastRequest, { policy: 'LEAST_REQUEST' }, true, false],
  ['RANDOM', randomLb, { policy: 'RANDOM' }, false, false],
  ['RING_HASH (1024+ ring)', ringHash, { policy: 'RING_HASH' }, false, true],
  ['MAGLEV (65537)', maglev, { policy: 'MAGLEV' }, false, true],
];
console.log('ns per pick (priority choice + host choice; hash picks take a precomputed hash)');
console.log(['policy'.padEnd(32), '10 hosts', '1,000', '10,000'].join('\t'));
for (const [name, f, over, weighted, hashed] of policies) {
  const row = { policy: name };
  for (const n of [10, 1000, 10000]) row[n] = nsPerPick(build(f, hosts(n, weighted), over), hashed).ns;
  results.picks.push(row);
  console.log([name.padEnd(32), row[10].toFixed(0), row[1000].toFixed(0), row[10000].toFixed(0)].join('\t\t'));
}

{
  // A request's hash: one header value through xxHash64 (what a header hash_policy costs).
  const keys = Array.from({ length: 1024 }, (_v, i) => `2f6b2c1e-9d3a-4c${String(i).padStart(2, '0')}-a1b2-c3d4e5f6a7b8`);
  const iters = 2_000_000;
  for (let round = 0; round < 2; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) xxh64String(keys[i & 1023]);
    const dt = Number(process.hrtime.bigint() - t0);
    if (round === 1) results.hash = dt / iters;
  }
  console.log(`\nxxHash64 of a 36-byte header value: ${results.hash.toFixed(0)} ns`);
}

console.log('\nrebuild (ms)');
const reb = (label, fn) => {
  fn(); // warm
  const times = [fn(), fn(), fn()].map((x) => x).sort((a, b) => a - b);
  results.rebuild.push({ label, ms: times[1] });
  console.log(`${label.padEnd(48)} ${times[1].toFixed(1)} ms (median of 3)`);
};
const h1000 = hosts(1000, false);
reb('RING_HASH 1,000 hosts, ring 1,024 (→ 2,000)', () => ms(() => build(ringHash, h1000, { policy: 'RING_HASH' })).ms);
reb('RING_HASH 10 hosts, ring 1,024', () => ms(() => build(ringHash, hosts(10, false), { policy: 'RING_HASH' })).ms);
reb('MAGLEV 1,000 hosts, table 65,537', () => ms(() => build(maglev, h1000, { policy: 'MAGLEV' })).ms);
reb('MAGLEV 10 hosts, table 65,537', () => ms(() => build(maglev, hosts(10, false), { policy: 'MAGLEV' })).ms);
{
  const t = ms(() => build(ringHash, h1000, { policy: 'RING_HASH', minRingSize: 8388608, maxRingSize: 8388608 }));
  results.rebuild.push({ label: 'RING_HASH 1,000 hosts, ring 8M', ms: t.ms });
  console.log(`${'RING_HASH 1,000 hosts, ring 8,388,608'.padEnd(48)} ${t.ms.toFixed(1)} ms (one run)`);
}
const worst = Math.max(...results.picks.map((r) => r[10000]));
console.log(`\ntargets: pick < 1 µs at 10,000 hosts: ${worst < 1000 ? 'met' : 'NOT met'} (worst ${worst.toFixed(0)} ns);` +
  ` ring-hash rebuild 1,000 hosts < 50 ms: ${results.rebuild[0].ms < 50 ? 'met' : 'NOT met'} (${results.rebuild[0].ms.toFixed(1)} ms)`);
if (process.argv.includes('--json')) console.log(JSON.stringify(results));
