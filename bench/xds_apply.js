#!/usr/bin/env node
// In-process companion to bench/xds_scale.js: what decoding and applying xDS resources
// costs inside one process, without gRPC, the control plane or other processes competing
// for the CPU (on the shared 2-core machine the wall times of xds_scale.js move by 2-3x
// with the other load; these CPU times much less). Uses dist/ (build first).
//
//   node bench/xds_apply.js
//
// 1. One ClusterLoadAssignment of 1,000 endpoints, one endpoint's port changed per round,
//    into one EDS cluster: binary -> canonical (fromBinaryAny), canonical -> domain
//    (decodeClusterLoadAssignmentResource), Cluster.setEndpoints. Median per step over
//    XDS_APPLY_ROUNDS rounds after 10 warm-up rounds, the first round alone (cold JIT), and
//    the median of rounds 2-6 (what xds_scale.js's part 2 sees: an initial assignment, then
//    five changes).
// 2. 5,000 EDS clusters and their assignments of 4 endpoints: decode + Cluster for each,
//    then decode + setEndpoints for each; wall and CPU time, heap after.
// 3. The control plane's parse of that mesh as a JSON file (parseMesh, second run).
'use strict';

const path = require('node:path');
const ROOT = path.resolve(__dirname, '..');
const d = (m) => require(path.join(ROOT, 'dist', m));
const { toBinary, fromBinaryAny } = d('xds/proto/binary.js');
const { ConfigIssues } = d('config/issues.js');
const R = d('xds/resources/decode_resource.js');
const { Cluster } = d('upstream/cluster.js');
const { StatsStore } = d('telemetry/stats.js');
const { parseMesh } = d('xds/server/mesh.js');

const ROUNDS = Number(process.env.XDS_APPLY_ROUNDS || 50);
const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const CL = 'envoy.config.cluster.v3.Cluster';
const TP = 'type.googleapis.com/';
const ep = (port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } });
const cla = (name, n, shift) => ({ cluster_name: name, endpoints: [{ lb_endpoints: Array.from({ length: n }, (_, j) => ep(j === 0 ? 20000 + shift : 30000 + j)) }] });
const edsCluster = (name) => ({ name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } });
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const r2 = (x) => Math.round(x * 100) / 100;

function oneEndpoint() {
  const n = ROUNDS + 11;
  const bytes = Array.from({ length: n }, (_, i) => toBinary(CLA, cla('big', 1000, i)));
  const cfg = R.decodeClusterResource({ name: 'big', type: 'EDS', connect_timeout: { seconds: 1, nanos: 0 }, eds_cluster_config: { eds_config: { ads: {} } } }, 'big').value;
  const c = new Cluster(cfg, new StatsStore(), true);
  const steps = { canonical: [], domain: [], apply: [], total: [] };
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const canon = fromBinaryAny(TP + CLA, bytes[i], new ConfigIssues());
    const t1 = performance.now();
    const r = R.decodeClusterLoadAssignmentResource(canon, 'big');
    const t2 = performance.now();
    c.setEndpoints(r.value.localities, r.value.overprovisioningFactor);
    const t3 = performance.now();
    steps.canonical.push(t1 - t0);
    steps.domain.push(t2 - t1);
    steps.apply.push(t3 - t2);
    steps.total.push(t3 - t0);
  }
  const out = {};
  for (const [k, xs] of Object.entries(steps)) out[k] = { first_ms: r2(xs[0]), rounds_2_6_median_ms: r2(median(xs.slice(1, 6))), median_ms: r2(median(xs.slice(11))) };
  return out;
}

function manyClusters() {
  const cls = [];
  const clas = [];
  for (let i = 0; i < 5000; i++) {
    const name = `svc-${String(i).padStart(5, '0')}`;
    cls.push(toBinary(CL, { ...edsCluster(name), connect_timeout: { seconds: 1, nanos: 0 } }));
    clas.push(toBinary(CLA, cla(name, 4, i)));
  }
  const store = new StatsStore();
  const clusters = [];
  const c0 = cpuMs();
  const t0 = performance.now();
  for (const b of cls) {
    const canon = fromBinaryAny(TP + CL, b, new ConfigIssues());
    clusters.push(new Cluster(R.decodeClusterResource(canon, canon.name).value, store, true));
  }
  const t1 = performance.now();
  const c1 = cpuMs();
  for (let i = 0; i < clas.length; i++) {
    const canon = fromBinaryAny(TP + CLA, clas[i], new ConfigIssues());
    const r = R.decodeClusterLoadAssignmentResource(canon, canon.cluster_name);
    clusters[i].setEndpoints(r.value.localities, r.value.overprovisioningFactor);
  }
  const t2 = performance.now();
  const c2 = cpuMs();
  return {
    cds: { wall_ms: Math.round(t1 - t0), cpu_ms: Math.round(c1 - c0) },
    eds: { wall_ms: Math.round(t2 - t1), cpu_ms: Math.round(c2 - c1) },
    heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1e6),
  };
}

function meshParse() {
  const clusters = [];
  const assignments = [];
  for (let i = 0; i < 5000; i++) {
    const name = `svc-${String(i).padStart(5, '0')}`;
    clusters.push(edsCluster(name));
    assignments.push(cla(name, 4, i));
  }
  const text = JSON.stringify({ groups: [{ match: { node_id: 'n' }, listeners: [], clusters, cluster_load_assignments: assignments }] });
  parseMesh(text, 'mesh.json');
  const c0 = cpuMs();
  const t0 = performance.now();
  parseMesh(text, 'mesh.json');
  return { mesh_bytes: text.length, wall_ms: Math.round(performance.now() - t0), cpu_ms: Math.round(cpuMs() - c0) };
}

const r = { node: process.version, rounds: ROUNDS, one_endpoint_of_1000: oneEndpoint(), clusters_5000: manyClusters(), control_plane_parse_5000: meshParse() };
process.stdout.write(JSON.stringify(r, null, 2) + '\n');
