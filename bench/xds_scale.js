#!/usr/bin/env node
// xDS scale benchmark: the reference control plane (`switchyard control-plane`) pushing to a
// real proxy (`switchyard proxy`) over ADS, both started as a user would, on 127.0.0.1 only.
//
//   node bench/xds_scale.js            # about 1-2 minutes; prints a report, saves bench/results/xds-<stamp>.json
//
// 1. SotW, 5,000 EDS clusters x 4 endpoints:
//    a. cold: control plane already serving the big mesh, time from spawning the proxy to
//       /status showing the proxy's ACK of the CDS and of the EDS version it was served
//       (and the first CDS ACK on its own);
//    b. warm: proxy running on a small mesh, time from writing the big mesh to the ACK of
//       the last type; plus the proxy's VmRSS after each, and /clusters listing them all.
//    In both, the issue's measure, "from a SotW push of 5,000 clusters to the ACK of the last
//    one", is taken on the control plane's clock: its debug "sending" line for the CDS version
//    served to its "ACK" lines for that CDS version and the EDS version served.
// 2. One EDS cluster of 1,000 endpoints, one endpoint's port changed per round, Delta and
//    SotW: mesh write -> control plane logs the new generation -> /status shows the new EDS
//    version ACKed; the measure is the push ("sending" line) to the ACK of its nonce. The control plane runs with --log-level debug here, so its own `ACK` log
//    line gives the ACK time to the millisecond as well (the /status poll is bounded by its
//    interval).
//
// Knobs (env): XDS_CLUSTERS (5000), XDS_EPS_PER_CLUSTER (4), XDS_BIG_ENDPOINTS (1000),
// XDS_ROUNDS (20, rounds of part 2 per API), XDS_POLL_MS (50), XDS_TIMEOUT_S (60, per wait),
// XDS_BUILD (auto|1|0), XDS_KEEP (1 keeps the scratch directory), XDS_PROXY_NODE_ARGS (node
// flags for the proxy, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), XDS_CP_NODE_ARGS (the same for
// the control plane).
//
// Targets (from the issue) are reported as met / not met, never asserted: the exit code is 0
// whenever the benchmark itself ran.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'switchyard.js');
const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const N_CLUSTERS = Number(env('XDS_CLUSTERS', 5000));
const EPS_PER_CLUSTER = Number(env('XDS_EPS_PER_CLUSTER', 4));
const BIG_ENDPOINTS = Number(env('XDS_BIG_ENDPOINTS', 1000));
const ROUNDS = Number(env('XDS_ROUNDS', 20));
const POLL_MS = Number(env('XDS_POLL_MS', 50));
const WAIT_MS = Number(env('XDS_TIMEOUT_S', 60)) * 1000;
const GLOBAL_TIMEOUT_MS = 15 * 60 * 1000;
const NODE_ID = 'bench-sidecar';

const TYPE = {
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  EDS: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
};
const TARGETS = { sotw_5k_applied_ms: 2000, sotw_5k_rss_mb: 250, delta_eds_applied_ms: 10 };

// ---------------------------------------------------------------------------- processes

const children = new Set();
let scratch;

function killAll(sig = 'SIGKILL') {
  for (const c of children) {
    try {
      if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, sig);
    } catch { /* already gone */ }
  }
}
process.on('exit', () => {
  killAll('SIGKILL');
  if (scratch && process.env.XDS_KEEP !== '1') fs.rmSync(scratch, { recursive: true, force: true });
});
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { process.stderr.write(`\n${s}: stopping\n`); process.exit(130); });
const watchdog = setTimeout(() => { process.stderr.write('xds_scale: global timeout, stopping\n'); process.exit(3); }, GLOBAL_TIMEOUT_MS);
watchdog.unref();

/** Spawns a switchyard CLI command; keeps a bounded tail of its stderr and notifies line listeners. */
function startCli(args, name, nodeArgs = []) {
  const t = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const p = { child, pid: child.pid, name, spawnedAt: t, tail: '', lineListeners: new Set(), exited: null };
  let partial = '';
  const onData = (d) => {
    const now = performance.now();
    const s = d.toString('utf8');
    p.tail = (p.tail + s).slice(-20000);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const line of lines) for (const l of p.lineListeners) l(line, now);
  };
  child.stderr.on('data', onData);
  child.stdout.on('data', onData);
  child.on('exit', (code, signal) => { p.exited = { code, signal }; children.delete(child); });
  return p;
}

async function stopProc(p) {
  if (!p || p.exited) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  try { process.kill(p.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
  await gone;
  clearTimeout(t);
}

function waitLine(p, re, ms, what) {
  return new Promise((resolve, reject) => {
    const done = (fn, v) => { clearTimeout(timer); p.lineListeners.delete(on); p.child.off('exit', onExit); fn(v); };
    const on = (line, at) => { const m = re.exec(line); if (m) done(resolve, { m, at, line }); };
    const onExit = () => done(reject, new Error(`${p.name} exited while waiting for ${what}:\n${p.tail.slice(-4000)}`));
    const timer = setTimeout(() => done(reject, new Error(`timed out (${ms} ms) waiting for ${what}:\n${p.tail.slice(-4000)}`)), ms);
    p.lineListeners.add(on);
    p.child.once('exit', onExit);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function rssOf(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st) || [])[1] || NaN);
    return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') };
  } catch {
    return { rss_kb: NaN, hwm_kb: NaN };
  }
}

// CPU time (user + system) a process has used, in ms: on a shared machine the wall times
// above move with the other load, the CPU a process spent much less.
const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { return 100; }
})();
function cpuMsOf(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // utime (14), stime (15)
  } catch {
    return NaN;
  }
}

function httpGet(url, ms = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(ms, () => req.destroy(new Error(`GET ${url}: no answer in ${ms} ms`)));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------- meshes

const EDS_CFG = { ads: {}, resource_api_version: 'V3' };
const edsCluster = (name) => ({ name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: EDS_CFG } });
const ep = (port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } });

/** n EDS clusters, each with a ClusterLoadAssignment of `per` endpoints on 127.0.0.1 (nothing listens). */
function manyClustersMesh(n, per) {
  const clusters = [];
  const clas = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${String(i).padStart(5, '0')}`;
    clusters.push(edsCluster(name));
    const lb = [];
    for (let j = 0; j < per; j++) lb.push(ep(20000 + ((i * per + j) % 40000)));
    clas.push({ cluster_name: name, endpoints: [{ lb_endpoints: lb }] });
  }
  return { groups: [{ match: { node_id: NODE_ID }, listeners: [], clusters, cluster_load_assignments: clas }] };
}

/** One EDS cluster `big` with `n` endpoints; endpoint 0's port is 20000 + shift. */
function bigClaMesh(n, shift) {
  const lb = [];
  for (let j = 0; j < n; j++) lb.push(ep(j === 0 ? 20000 + shift : 30000 + j));
  return {
    groups: [{ match: { node_id: NODE_ID }, listeners: [], clusters: [edsCluster('big')], cluster_load_assignments: [{ cluster_name: 'big', endpoints: [{ lb_endpoints: lb }] }] }],
  };
}

/** Atomic write (temp file + rename), as the integration helpers and config tools do. Returns the time of the rename. */
function writeMesh(file, mesh) {
  fs.writeFileSync(file + '.tmp', JSON.stringify(mesh));
  fs.renameSync(file + '.tmp', file);
  return performance.now();
}

function bootstrap(api, adsPort, adminPort) {
  return `
node: { id: ${NODE_ID}, cluster: bench }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } } }
dynamic_resources:
  ads_config:
    api_type: ${api}
    transport_api_version: V3
    grpc_services:
    - envoy_grpc: { cluster_name: xds_cluster }
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${adsPort} } } }
`;
}

// ---------------------------------------------------------------------------- control plane + proxy

let seq = 0;

async function startControlPlane(mesh, logLevel = 'info') {
  const dir = path.join(scratch, `cp-${++seq}`);
  fs.mkdirSync(dir);
  const meshFile = path.join(dir, 'mesh.yaml');
  writeMesh(meshFile, mesh);
  const adsPort = await freePort();
  const statusPort = await freePort();
  const p = startCli(['control-plane', '-c', meshFile, '--address', `127.0.0.1:${adsPort}`, '--status-address', `127.0.0.1:${statusPort}`, '--log-level', logLevel], 'control-plane', (process.env.XDS_CP_NODE_ARGS || '').split(' ').filter(Boolean));
  const { at } = await waitLine(p, /\blistening xds=/, WAIT_MS, 'the control plane to log "listening"');
  return { ...p, meshFile, adsPort, statusPort, readyMs: at - p.spawnedAt, status: () => httpGet(`http://127.0.0.1:${statusPort}/status`, 10000).then((r) => JSON.parse(r.body)) };
}

async function startProxy(api, adsPort) {
  const dir = path.join(scratch, `proxy-${++seq}`);
  fs.mkdirSync(dir);
  const adminPort = await freePort();
  const cfg = path.join(dir, 'bootstrap.yaml');
  fs.writeFileSync(cfg, bootstrap(api, adsPort, adminPort));
  const nodeArgs = (process.env.XDS_PROXY_NODE_ARGS || '').split(' ').filter(Boolean);
  const p = startCli(['proxy', '-c', cfg, '--log-level', 'warn'], `proxy(${api})`, nodeArgs);
  return { ...p, adminPort, admin: (q) => httpGet(`http://127.0.0.1:${adminPort}${q}`, 20000) };
}

// The control plane's own SotW version function (dist is built before anything runs), so the
// expected version is computed exactly as the server computes what it sends.
let responseVersion;

/** The group serving NODE_ID in a /status snapshot: type URL -> name -> resource version. */
function groupResources(st) {
  const g = st.mesh.groups.find((x) => x.match && x.match.node_id === NODE_ID);
  return g.resources;
}

/** SotW version of a response carrying every resource of `typeUrl` in the node's group. */
function expectedSotwVersion(st, typeUrl) {
  const byName = groupResources(st)[typeUrl] || {};
  const rs = Object.entries(byName).map(([name, version]) => ({ name, version }));
  rs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return responseVersion(rs);
}

function nodeStream(st) {
  const ss = st.streams.filter((s) => s.node_id === NODE_ID);
  return ss.length ? ss.reduce((a, b) => (b.id > a.id ? b : a)) : undefined;
}

function typeOf(stream, url) {
  return stream && stream.types.find((t) => t.type_url === url);
}

/**
 * Polls /status every POLL_MS until `done(snapshot)` is true. `checks` are named predicates
 * whose first true poll is recorded too. Each hit is reported as an interval: `lo` is when the
 * previous poll (which did not see it yet) was sent, `hi` when the poll that saw it answered;
 * the event happened in between. Times are performance.now() values.
 */
async function pollStatus(cp, checks, doneWhen, what) {
  const hits = {};
  const deadline = performance.now() + WAIT_MS;
  let prevSent = performance.now();
  let polls = 0;
  let maxPollMs = 0;
  for (;;) {
    const sent = performance.now();
    let st;
    try { st = await cp.status(); } catch (e) { st = undefined; }
    const got = performance.now();
    polls++;
    maxPollMs = Math.max(maxPollMs, got - sent);
    if (st) {
      for (const [k, f] of Object.entries(checks)) if (!hits[k] && f(st)) hits[k] = { lo: prevSent, hi: got };
      if (doneWhen(hits, st)) return { hits, polls, max_poll_ms: maxPollMs, last: st };
    }
    if (cp.exited) throw new Error(`control plane exited while waiting for ${what}:\n${cp.tail.slice(-4000)}`);
    if (performance.now() > deadline) throw new Error(`timed out (${WAIT_MS} ms) waiting for ${what}; last /status streams: ${JSON.stringify(st && st.streams, null, 1).slice(0, 4000)}`);
    prevSent = sent;
    const wait = POLL_MS - (performance.now() - sent);
    if (wait > 0) await sleep(wait);
  }
}

const r1 = (x) => Math.round(x * 10) / 10;
const span = (h, t0) => (h ? { ms: r1(h.hi - t0), lower_bound_ms: r1(Math.max(0, h.lo - t0)) } : null);

/** Checks that the node's SotW stream ACKed exactly the version the server computes for the whole group. */
function sotwAcked(url) {
  return (st) => {
    const t = typeOf(nodeStream(st), url);
    return !!t && t.last_acked_version === expectedSotwVersion(st, url);
  };
}

async function countClusters(proxy) {
  const r = await proxy.admin('/clusters');
  const names = new Set();
  for (const line of r.body.split('\n')) {
    const i = line.indexOf('::');
    if (i > 0) names.add(line.slice(0, i));
  }
  return { status: r.status, clusters: names.size, dynamic: [...names].filter((n) => n !== 'xds_cluster').length };
}

/** Collects a process's log lines from now on (with their arrival time); stop() detaches. */
function collectLines(p) {
  const lines = [];
  const on = (line, at) => lines.push({ line, at });
  p.lineListeners.add(on);
  return { lines, stop: () => p.lineListeners.delete(on) };
}

/** The control plane's own timestamp on a log line (ms resolution). */
const stampOf = (line) => Date.parse((/^\[([^\]]+)\]/.exec(line) || [])[1]);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The push of a SotW mesh to its last ACK, on the control plane's clock: from its debug
 * "sending" line of the CDS version now served, to its "ACK" lines of that CDS version and of
 * the EDS version now served (`st`: a /status snapshot taken after both were ACKed).
 */
function sotwPushToAck(lines, st) {
  const cds = expectedSotwVersion(st, TYPE.CDS);
  const eds = expectedSotwVersion(st, TYPE.EDS);
  const find = (re, from = 0) => { for (let i = from; i < lines.length; i++) if (re.test(lines[i].line)) return i; return -1; };
  const iPush = find(new RegExp(`\\[debug\\] sending .*type=CDS version=${escapeRe(cds)}\\b`));
  if (iPush < 0) throw new Error(`no "sending" log line for CDS version ${cds}`);
  const iCds = find(new RegExp(`\\[debug\\] ACK .*type=${escapeRe(TYPE.CDS)} version=${escapeRe(cds)}\\b`), iPush + 1);
  const iEds = find(new RegExp(`\\[debug\\] ACK .*type=${escapeRe(TYPE.EDS)} version=${escapeRe(eds)}\\b`), iPush + 1);
  if (iCds < 0 || iEds < 0) throw new Error(`no ACK log lines for CDS ${cds} / EDS ${eds}`);
  const t0 = stampOf(lines[iPush].line);
  const cdsMs = stampOf(lines[iCds].line) - t0;
  const edsMs = stampOf(lines[iEds].line) - t0;
  return { cds_ack_ms: cdsMs, eds_ack_ms: edsMs, last_ack_ms: Math.max(cdsMs, edsMs) };
}

// ---------------------------------------------------------------------------- part 1: SotW 5k clusters

async function part1() {
  const out = { clusters: N_CLUSTERS, endpoints_per_cluster: EPS_PER_CLUSTER };
  const big = manyClustersMesh(N_CLUSTERS, EPS_PER_CLUSTER);
  out.mesh_file_bytes = Buffer.byteLength(JSON.stringify(big));

  // a. cold start
  {
    const cp = await startControlPlane(big, 'debug');
    const cpLines = collectLines(cp);
    const cpCpu0 = cpuMsOf(cp.pid);
    const proxy = await startProxy('GRPC', cp.adsPort);
    const t0 = proxy.spawnedAt;
    const res = await pollStatus(
      cp,
      {
        first_cds_ack: (st) => !!(typeOf(nodeStream(st), TYPE.CDS) || {}).last_acked_version,
        cds_acked: sotwAcked(TYPE.CDS),
        eds_acked: sotwAcked(TYPE.EDS),
      },
      (h) => h.cds_acked && h.eds_acked,
      'the cold-start CDS and EDS ACKs',
    );
    const applied = res.hits.cds_acked.hi > res.hits.eds_acked.hi ? res.hits.cds_acked : res.hits.eds_acked;
    const proxyCpu = cpuMsOf(proxy.pid);
    const cpCpu = cpuMsOf(cp.pid) - cpCpu0;
    const rssNow = rssOf(proxy.pid);
    await sleep(1000);
    const rss1s = rssOf(proxy.pid);
    const cl = await countClusters(proxy);
    const edsT = typeOf(nodeStream(res.last), TYPE.EDS);
    cpLines.stop();
    out.cold = {
      what: 'proxy spawn -> /status shows the ACK of the CDS and EDS versions served (5k clusters)',
      push_to_ack: sotwPushToAck(cpLines.lines, res.last),
      control_plane_start_ms: r1(cp.readyMs),
      first_cds_ack: span(res.hits.first_cds_ack, t0),
      cds_ack: span(res.hits.cds_acked, t0),
      eds_ack: span(res.hits.eds_acked, t0),
      applied: span(applied, t0),
      proxy_cpu_ms_to_ack: Math.round(proxyCpu),
      control_plane_cpu_ms_to_ack: Math.round(cpCpu),
      eds_subscribed_names: edsT ? edsT.subscribed.length : null,
      // Nonces count up per stream, so the highest one is the number of responses sent on it.
      stream_responses_sent: Math.max(...nodeStream(res.last).types.map((t) => Number(t.last_sent_nonce) || 0)),
      status_polls: res.polls,
      slowest_status_poll_ms: r1(res.max_poll_ms),
      proxy_rss_mb_at_ack: r1(rssNow.rss_kb / 1024),
      proxy_rss_mb_1s_after: r1(rss1s.rss_kb / 1024),
      proxy_hwm_mb: r1(rss1s.hwm_kb / 1024),
      control_plane_rss_mb: r1(rssOf(cp.pid).rss_kb / 1024),
      admin_clusters: cl,
    };
    await stopProc(proxy);
    await stopProc(cp);
  }

  // b. warm: the proxy runs on a small mesh; the big mesh is written under it.
  {
    const small = manyClustersMesh(10, EPS_PER_CLUSTER);
    const cp = await startControlPlane(small, 'debug');
    const proxy = await startProxy('GRPC', cp.adsPort);
    const base = await pollStatus(cp, { c: sotwAcked(TYPE.CDS), e: sotwAcked(TYPE.EDS) }, (h) => h.c && h.e, 'the small mesh to be ACKed');
    const baseline = span(base.hits.c.hi > base.hits.e.hi ? base.hits.c : base.hits.e, proxy.spawnedAt);
    const baselineCpu = cpuMsOf(proxy.pid);
    const rssSmall = rssOf(proxy.pid);
    await sleep(300);
    const reloaded = waitLine(cp, /mesh reloaded .*generation=(\d+)/, WAIT_MS, 'the control plane to log the new mesh generation');
    const cpu0 = { proxy: cpuMsOf(proxy.pid), cp: cpuMsOf(cp.pid) };
    const cpLines = collectLines(cp);
    const tw = writeMesh(cp.meshFile, big);
    const res = await pollStatus(
      cp,
      { reloaded: (st) => st.mesh.generation >= 2, cds_acked: (st) => st.mesh.generation >= 2 && sotwAcked(TYPE.CDS)(st), eds_acked: (st) => st.mesh.generation >= 2 && sotwAcked(TYPE.EDS)(st) },
      (h) => h.cds_acked && h.eds_acked,
      'the 5k-cluster mesh to be ACKed',
    );
    const rl = await reloaded;
    const lastType = res.hits.cds_acked.hi > res.hits.eds_acked.hi ? 'CDS' : 'EDS';
    const applied = lastType === 'CDS' ? res.hits.cds_acked : res.hits.eds_acked;
    const cpu1 = { proxy: cpuMsOf(proxy.pid), cp: cpuMsOf(cp.pid) };
    const rssNow = rssOf(proxy.pid);
    await sleep(1000);
    const rss1s = rssOf(proxy.pid);
    const cl = await countClusters(proxy);
    cpLines.stop();
    out.warm = {
      what: 'mesh write (10 -> 5k clusters) -> /status shows the ACK of the last type',
      push_to_ack: sotwPushToAck(cpLines.lines, res.last),
      baseline_cold_10_clusters: baseline,
      baseline_proxy_cpu_ms_10_clusters: Math.round(baselineCpu),
      proxy_cpu_ms_write_to_ack: Math.round(cpu1.proxy - cpu0.proxy),
      control_plane_cpu_ms_write_to_ack: Math.round(cpu1.cp - cpu0.cp),
      reload_logged_ms: r1(rl.at - tw),
      cds_ack: span(res.hits.cds_acked, tw),
      eds_ack: span(res.hits.eds_acked, tw),
      last_type: lastType,
      applied: span(applied, tw),
      applied_after_reload_log_ms: r1(applied.hi - rl.at),
      status_polls: res.polls,
      slowest_status_poll_ms: r1(res.max_poll_ms),
      proxy_rss_mb_small_mesh: r1(rssSmall.rss_kb / 1024),
      proxy_rss_mb_at_ack: r1(rssNow.rss_kb / 1024),
      proxy_rss_mb_1s_after: r1(rss1s.rss_kb / 1024),
      proxy_hwm_mb: r1(rss1s.hwm_kb / 1024),
      admin_clusters: cl,
    };
    await stopProc(proxy);
    await stopProc(cp);
  }
  return out;
}

// ---------------------------------------------------------------------------- part 2: one endpoint of 1,000

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, min: r1(s[0]), median: r1(q(0.5)), max: r1(s[s.length - 1]) };
}

async function part2(api) {
  const cp = await startControlPlane(bigClaMesh(BIG_ENDPOINTS, 0), 'debug');
  const proxy = await startProxy(api, cp.adsPort);
  const delta = api === 'DELTA_GRPC';
  // Applied = the node's EDS stream ACKed what the current generation serves.
  const edsAcked = (st) => {
    const t = typeOf(nodeStream(st), TYPE.EDS);
    if (!t) return false;
    if (!delta) return t.last_acked_version === expectedSotwVersion(st, TYPE.EDS);
    const want = groupResources(st)[TYPE.EDS].big;
    return t.last_acked_version === String(st.mesh.generation) && !!t.resource_versions && t.resource_versions.big === want;
  };
  await pollStatus(cp, { e: edsAcked }, (h) => h.e, `the initial ${api} EDS ACK`);
  const rounds = [];
  for (let i = 1; i <= ROUNDS; i++) {
    await sleep(300); // past the watcher's debounce of the previous write
    const gen = (await cp.status()).mesh.generation + 1;
    // Every log line of the round, with its arrival time here; the control plane's own
    // timestamps (ms) on the "mesh reloaded" line, the EDS "sending" line after it and the
    // "ACK" line carrying that push's nonce time the path after the file watch.
    const collected = collectLines(cp);
    const lines = collected.lines;
    const wallWrite = Date.now();
    const tw = writeMesh(cp.meshFile, bigClaMesh(BIG_ENDPOINTS, i));
    const res = await pollStatus(
      cp,
      { reloaded: (st) => st.mesh.generation >= gen, acked: (st) => st.mesh.generation >= gen && edsAcked(st) },
      (h) => h.acked,
      `the ${api} EDS ACK of generation ${gen}`,
    );
    const reRl = new RegExp(`mesh reloaded .*generation=${gen}\\b`);
    // The push of this generation: the first EDS "sending" line after the reload; its nonce
    // names the ACK that answers it.
    const reSend = delta ? /\[debug\] sending delta .*type=EDS nonce=(\S+)/ : /\[debug\] sending .*type=EDS .*nonce=(\S+)/;
    let rl;
    let send;
    let ack;
    for (let k = 0; k < 100 && !(rl && send && ack); k++) {
      const iRl = lines.findIndex((x) => reRl.test(x.line));
      if (iRl >= 0) {
        rl = lines[iRl];
        const iSend = lines.findIndex((x, i) => i > iRl && reSend.test(x.line));
        if (iSend >= 0) {
          send = lines[iSend];
          const nonce = reSend.exec(send.line)[1];
          const reAck = new RegExp(`\\[debug\\] ACK .*type=${escapeRe(TYPE.EDS)} .*nonce=${escapeRe(nonce)}\\b`);
          ack = lines.slice(iSend + 1).find((x) => reAck.test(x.line));
        }
      }
      if (!(rl && send && ack)) await sleep(20);
    }
    collected.stop();
    if (!rl || !send || !ack) throw new Error(`no reload/sending/ACK log lines for generation ${gen}:\n${cp.tail.slice(-4000)}`);
    const rlStamp = stampOf(rl.line);
    const sendStamp = stampOf(send.line);
    const ackStamp = stampOf(ack.line);
    rounds.push({
      generation: gen,
      write_to_reload_log_ms: r1(rl.at - tw),
      write_to_ack_status_ms: r1(res.hits.acked.hi - tw),
      write_to_ack_status_lower_bound_ms: r1(Math.max(0, res.hits.acked.lo - tw)),
      // Control-plane clock, from its own log lines (ms resolution): the part of the path after
      // the reload (the line is logged once the new file is parsed): push, proxy apply, ACK back.
      reload_to_ack_cp_log_ms: ackStamp - rlStamp,
      push_to_ack_cp_log_ms: ackStamp - sendStamp,
      write_to_reload_cp_log_ms: rlStamp - wallWrite,
      write_to_ack_cp_log_ms: ackStamp - wallWrite,
    });
  }
  const rss = rssOf(proxy.pid);
  await stopProc(proxy);
  await stopProc(cp);
  return {
    api,
    endpoints: BIG_ENDPOINTS,
    rounds,
    write_to_ack_status_ms: stats(rounds.map((r) => r.write_to_ack_status_ms)),
    write_to_reload_log_ms: stats(rounds.map((r) => r.write_to_reload_log_ms)),
    reload_to_ack_cp_log_ms: stats(rounds.map((r) => r.reload_to_ack_cp_log_ms)),
    push_to_ack_cp_log_ms: stats(rounds.map((r) => r.push_to_ack_cp_log_ms)),
    push_to_ack_first5_cp_log_ms: stats(rounds.slice(0, 5).map((r) => r.push_to_ack_cp_log_ms)),
    write_to_ack_cp_log_ms: stats(rounds.map((r) => r.write_to_ack_cp_log_ms)),
    proxy_rss_mb: r1(rss.rss_kb / 1024),
  };
}

// ---------------------------------------------------------------------------- main

function buildIfStale() {
  const mode = env('XDS_BUILD', 'auto');
  if (mode === '0') return false;
  let stale = mode === '1';
  if (!stale) {
    let built = 0;
    try { built = fs.statSync(path.join(ROOT, 'dist', 'cli.js')).mtimeMs; } catch { stale = true; }
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (stale) return;
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && fs.statSync(p).mtimeMs > built) stale = true;
      }
    };
    if (!stale) walk(path.join(ROOT, 'src'));
  }
  if (stale) {
    process.stderr.write('building dist/ (npx tsc -p tsconfig.json) ...\n');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  }
  return stale;
}

const verdict = (ok) => (ok ? 'MET' : 'NOT MET');

function report(r) {
  const L = [];
  const c = r.sotw_5k.cold;
  const w = r.sotw_5k.warm;
  const fmtSpan = (s) => (s ? `${s.ms} ms (after ${s.lower_bound_ms} ms)` : 'n/a');
  L.push(`xDS scale benchmark  ${r.time}  node ${r.node}  ${r.cpus} CPUs  git ${r.git}`);
  L.push('');
  L.push(`1. SotW (GRPC), ${r.sotw_5k.clusters} EDS clusters x ${r.sotw_5k.endpoints_per_cluster} endpoints (mesh file ${(r.sotw_5k.mesh_file_bytes / 1e6).toFixed(1)} MB)`);
  L.push(`   times are "seen by the /status poll (event happened after the previous poll, shown in parentheses)"; poll every ${POLL_MS} ms`);
  L.push(`   cold: control plane start (load+listen)      ${c.control_plane_start_ms} ms`);
  L.push(`         proxy spawn -> first CDS ACK            ${fmtSpan(c.first_cds_ack)}`);
  L.push(`         proxy spawn -> CDS ACK (all clusters)   ${fmtSpan(c.cds_ack)}`);
  L.push(`         proxy spawn -> EDS ACK (all CLAs)       ${fmtSpan(c.eds_ack)}   [EDS names subscribed: ${c.eds_subscribed_names}]`);
  L.push(`         CPU used to the ACK: proxy / control plane  ${c.proxy_cpu_ms_to_ack} / ${c.control_plane_cpu_ms_to_ack} ms`);
  L.push(`         proxy RSS at ACK / +1 s / peak          ${c.proxy_rss_mb_at_ack} / ${c.proxy_rss_mb_1s_after} / ${c.proxy_hwm_mb} MB   (control plane ${c.control_plane_rss_mb} MB)`);
  L.push(`         admin /clusters                         ${c.admin_clusters.clusters} clusters (${c.admin_clusters.dynamic} dynamic)  ${c.admin_clusters.dynamic >= r.sotw_5k.clusters ? 'OK' : 'MISSING CLUSTERS'}`);
  L.push(`         push -> CDS ACK / EDS ACK (cp clock)    ${c.push_to_ack.cds_ack_ms} / ${c.push_to_ack.eds_ack_ms} ms   (from the control plane's "sending" CDS line)`);
  L.push(`         responses sent on the ADS stream        ${c.stream_responses_sent}`);
  L.push(`         slowest /status poll                    ${c.slowest_status_poll_ms} ms (${c.status_polls} polls)`);
  L.push(`   baseline: proxy spawn -> last ACK, 10 clusters  ${fmtSpan(w.baseline_cold_10_clusters)}, proxy CPU ${w.baseline_proxy_cpu_ms_10_clusters} ms   (Node start + bootstrap + ADS connect)`);
  L.push(`   warm: write -> control plane logs reload      ${w.reload_logged_ms} ms`);
  L.push(`         write -> CDS ACK                        ${fmtSpan(w.cds_ack)}`);
  L.push(`         write -> EDS ACK                        ${fmtSpan(w.eds_ack)}`);
  L.push(`         write -> last type ACK (${w.last_type})           ${fmtSpan(w.applied)}   (${w.applied_after_reload_log_ms} ms after the reload log line)`);
  L.push(`         push -> CDS ACK / EDS ACK (cp clock)    ${w.push_to_ack.cds_ack_ms} / ${w.push_to_ack.eds_ack_ms} ms`);
  L.push(`         CPU used write -> ACK: proxy / control plane  ${w.proxy_cpu_ms_write_to_ack} / ${w.control_plane_cpu_ms_write_to_ack} ms`);
  L.push(`         proxy RSS small mesh / at ACK / +1 s / peak  ${w.proxy_rss_mb_small_mesh} / ${w.proxy_rss_mb_at_ack} / ${w.proxy_rss_mb_1s_after} / ${w.proxy_hwm_mb} MB`);
  L.push(`         admin /clusters                         ${w.admin_clusters.clusters} clusters (${w.admin_clusters.dynamic} dynamic)  ${w.admin_clusters.dynamic >= r.sotw_5k.clusters ? 'OK' : 'MISSING CLUSTERS'}`);
  L.push('');
  L.push(`2. One EDS cluster of ${r.one_endpoint[0].endpoints} endpoints, one endpoint's port changed, ${ROUNDS} rounds (min / median / max ms)`);
  L.push(`   ${'api'.padEnd(12)} ${'push->ACK (cp log)'.padEnd(22)}${'ditto, rounds 1-5'.padEnd(22)}${'write->reload log'.padEnd(22)}${'write->ACK (cp log)'.padEnd(22)}${'write->ACK (/status)'.padEnd(22)}proxy RSS`);
  for (const x of r.one_endpoint) {
    const f = (s) => `${s.min} / ${s.median} / ${s.max}`.padEnd(21) + ' ';
    L.push(`   ${x.api.padEnd(12)} ${f(x.push_to_ack_cp_log_ms)}${f(x.push_to_ack_first5_cp_log_ms)}${f(x.write_to_reload_log_ms)}${f(x.write_to_ack_cp_log_ms)}${f(x.write_to_ack_status_ms)}${x.proxy_rss_mb} MB`);
  }
  L.push('   write->reload is the control plane\'s file watch: fs.watch event + 100 ms debounce + read/parse of the mesh.');
  L.push('   push->ACK (cp log) is the control plane\'s own clock: its debug "sending" line for the EDS change to the "ACK" line with that nonce, ms resolution.');
  L.push('   Rounds 1-5 run while the proxy\'s decode and apply code is still being JIT-compiled.');
  L.push('');
  L.push('Targets (from the issue; reported, not asserted):');
  for (const t of r.targets) L.push(`   ${verdict(t.met).padEnd(8)} ${t.name}: ${t.value} (target ${t.target})`);
  return L.join('\n');
}

async function main() {
  const built = buildIfStale();
  responseVersion = require(path.join(ROOT, 'dist', 'xds', 'server', 'sotw.js')).responseVersion;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-xds-bench-'));
  let git = 'unknown';
  try { git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(); } catch { /* not a checkout */ }
  try { if (execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT }).toString().trim()) git += '+dirty(src)'; } catch { /* ignore */ }

  const r = {
    time: new Date().toISOString(), node: process.version, cpus: os.cpus().length, git, built_dist: built,
    knobs: { clusters: N_CLUSTERS, eps_per_cluster: EPS_PER_CLUSTER, big_endpoints: BIG_ENDPOINTS, rounds: ROUNDS, poll_ms: POLL_MS, wait_timeout_ms: WAIT_MS },
    command: `node bench/xds_scale.js`,
  };
  process.stderr.write(`part 1: SotW, ${N_CLUSTERS} clusters ...\n`);
  r.sotw_5k = await part1();
  r.one_endpoint = [];
  for (const api of ['DELTA_GRPC', 'GRPC']) {
    process.stderr.write(`part 2: ${api}, one of ${BIG_ENDPOINTS} endpoints ...\n`);
    r.one_endpoint.push(await part2(api));
  }
  const c = r.sotw_5k.cold;
  const w = r.sotw_5k.warm;
  const d = r.one_endpoint.find((x) => x.api === 'DELTA_GRPC');
  // The issue's measures: "time from a SotW push of 5,000 clusters ... to the ACK of the last
  // one" and "time to apply one endpoint change ... over delta", both on the control plane's
  // own clock (its debug "sending" and "ACK" lines). The spawn- and write-based times above
  // add the proxy's start and the control plane's file watch; they are reported, not judged.
  r.targets = [
    { name: 'SotW 5k clusters, push -> last ACK, proxy just started', value: `${c.push_to_ack.last_ack_ms} ms`, target: `< ${TARGETS.sotw_5k_applied_ms} ms`, met: c.push_to_ack.last_ack_ms < TARGETS.sotw_5k_applied_ms },
    { name: 'SotW 5k clusters, push -> last ACK, proxy running (10 -> 5k)', value: `${w.push_to_ack.last_ack_ms} ms`, target: `< ${TARGETS.sotw_5k_applied_ms} ms`, met: w.push_to_ack.last_ack_ms < TARGETS.sotw_5k_applied_ms },
    { name: 'proxy RSS with 5k clusters (max of cold/warm, 1 s after ACK)', value: `${Math.max(c.proxy_rss_mb_1s_after, w.proxy_rss_mb_1s_after)} MB`, target: `< ${TARGETS.sotw_5k_rss_mb} MB`, met: Math.max(c.proxy_rss_mb_1s_after, w.proxy_rss_mb_1s_after) < TARGETS.sotw_5k_rss_mb },
    { name: `Delta EDS change of 1 of ${d.endpoints} endpoints, push -> ACK (median of ${d.rounds.length})`, value: `${d.push_to_ack_cp_log_ms.median} ms (max ${d.push_to_ack_cp_log_ms.max}; first 5 rounds after start: median ${d.push_to_ack_first5_cp_log_ms.median})`, target: `< ${TARGETS.delta_eds_applied_ms} ms`, met: d.push_to_ack_cp_log_ms.median < TARGETS.delta_eds_applied_ms },
  ];
  const text = report(r);
  process.stdout.write(text + '\n');
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `xds-${r.time.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...r, report: text }, null, 2) + '\n');
  process.stdout.write(`\nsaved ${path.relative(ROOT, file)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`xds_scale: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);
