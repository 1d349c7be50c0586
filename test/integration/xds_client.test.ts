// The ADS client (src/xds/client) against the real reference management server
// (`switchyard control-plane`, started as a user would, on real sockets), for both
// variants of the protocol:
//   a. wildcard LDS/CDS and named RDS/EDS arrive decoded; the server's /status shows the ACKs;
//   b. a mesh edit pushes what changed, and a deleted cluster is a removal;
//   c. a handler rejecting one resource: NACK with its name and message in error_detail,
//      the rest of the response applied, the last accepted version kept;
//   d. the control plane SIGKILLed and restarted on the same port: the client reconnects,
//      resubscribes (delta: initial_resource_versions, nothing resent), and no removal;
//   e. updateWatch adds and removes EDS names and the server follows.
// Plus: the node (id, user agent, client features) on the first request of every stream,
// seen by a real gRPC server that ends the first stream to force a second.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CLI, REPO_ROOT, freePort, tempDir, trackProcess, waitFor } from './harness';
import { cla, edsCluster as cluster, getJson, rawAdsService, rdsListener as listener, routeConfig as route } from './xds_helpers';
import { AdsClient, ResourceUpdate, TYPE_URLS, WatchHandler, XdsApi } from '../../src/xds/client';
import { Canon } from '../../src/xds/proto/canonical';
import { adsDefinition } from '../../src/xds/server/service';
import { VERSION } from '../../src/version';

const { LDS, RDS, CDS, EDS } = TYPE_URLS;
const NODE = { id: 'node-a', cluster: 'cluster-a', metadata: { team: 'edge' }, locality: { region: 'r1', zone: 'z1' } };
const FAST = { baseMs: 100, maxMs: 1000 };

// ---------------------------------------------------------------- meshes


interface MeshOpts { c1Port?: number; c2Port?: number; withC2?: boolean; c1Timeout?: string; withC3?: boolean }
function mesh(o: MeshOpts = {}) {
  const withC2 = o.withC2 ?? true;
  return {
    groups: [{
      match: { node_id: 'node-a' },
      listeners: [listener('L1', 15001, 'R1'), listener('L2', 15002, 'R2')],
      route_configurations: [route('R1', 'C1'), route('R2', withC2 ? 'C2' : 'C1')],
      clusters: [cluster('C1', o.c1Timeout), ...(withC2 ? [cluster('C2')] : []), ...(o.withC3 ? [cluster('C3')] : [])],
      cluster_load_assignments: [cla('C1', o.c1Port ?? 7001), ...(withC2 ? [cla('C2', o.c2Port ?? 7100)] : [])],
    }],
    default: { listeners: [listener('D1', 15009, 'R1')] },
  };
}

// ---------------------------------------------------------------- control plane on fixed ports

interface Cp {
  child: ChildProcess;
  meshFile: string;
  adsPort: number;
  statusPort: number;
  logs(): string;
  writeMesh(m: unknown): void;
  status(): Promise<any>;
  kill(): Promise<void>;
}

/** `switchyard control-plane` on the given ports (free ones by default), as a user runs it. */
async function startCp(m: unknown, at?: { meshFile: string; adsPort: number; statusPort: number }): Promise<Cp> {
  const meshFile = at?.meshFile ?? path.join(tempDir('switchyard-xdsc-'), 'mesh.yaml');
  const write = (x: unknown) => fs.writeFileSync(meshFile, JSON.stringify(x, null, 2));
  if (!at) write(m);
  const adsPort = at?.adsPort ?? (await freePort());
  const statusPort = at?.statusPort ?? (await freePort());
  const child = trackProcess(spawn(process.execPath, [CLI, 'control-plane', '-c', meshFile, '--address', `127.0.0.1:${adsPort}`, '--status-address', `127.0.0.1:${statusPort}`], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  child.stdout!.resume();
  await waitFor('control-plane to log "listening"', () => {
    if (child.exitCode !== null) throw new Error(`control-plane exited ${child.exitCode}:\n${err}`);
    return err.includes('listening');
  }, { attempts: 300, intervalMs: 50 });
  return {
    child, meshFile, adsPort, statusPort,
    logs: () => err,
    writeMesh: write,
    status: () => getJson(`http://127.0.0.1:${statusPort}/status`),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGKILL');
      await gone;
    },
  };
}

/** The node-a stream's per-type status (by type URL), once it is listed. */
async function streamOf(cp: Cp): Promise<{ stream: any; types: Record<string, any> }> {
  const st = await cp.status();
  const stream = st.streams.find((s: any) => s.node_id === 'node-a');
  if (!stream) return undefined as any;
  return { stream, types: Object.fromEntries(stream.types.map((t: any) => [t.type_url, t])) };
}

// ---------------------------------------------------------------- a handler that records

class Recorder implements WatchHandler {
  readonly updates: ResourceUpdate[] = [];
  readonly held = new Map<string, Canon>();
  readonly removedEver: string[] = [];
  reject: (name: string, r: Canon) => string | undefined = () => undefined;

  apply(u: ResourceUpdate): Map<string, string> {
    this.updates.push(u);
    const errors = new Map<string, string>();
    for (const [n, r] of u.added) {
      const why = this.reject(n, r.resource);
      if (why) errors.set(n, why);
      else this.held.set(n, r.resource);
    }
    for (const n of u.removed) {
      this.held.delete(n);
      this.removedEver.push(n);
    }
    return errors;
  }

  names(): string[] {
    return [...this.held.keys()].sort();
  }
}

const claPort = (c: Canon) => c.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value;

interface Setup {
  cp: Cp;
  ads: AdsClient;
  h: Record<'lds' | 'rds' | 'cds' | 'eds', Recorder>;
}

/** Starts a control plane and a client watching LDS/CDS (wildcard), RDS [R1] and EDS `eds`. */
async function setup(api: XdsApi, m: unknown, eds: string[] = ['C1', 'C2'], cp?: Cp): Promise<Setup> {
  cp ??= await startCp(m);
  const ads = new AdsClient({ target: `127.0.0.1:${cp.adsPort}`, api, node: NODE, backoff: FAST });
  const h = { lds: new Recorder(), rds: new Recorder(), cds: new Recorder(), eds: new Recorder() };
  ads.watch(CDS, undefined, h.cds);
  ads.watch(EDS, eds, h.eds);
  ads.watch(LDS, '*', h.lds);
  ads.watch(RDS, ['R1'], h.rds);
  for (const t of [CDS, EDS, LDS, RDS]) assert.equal(await ads.ready(t), 'received', `first ${t} response`);
  return { cp, ads, h };
}

/** Waits until the server's /status shows every type ACKed at the version the client holds. */
async function serverSeesAcks(s: Setup): Promise<Record<string, any>> {
  return waitFor('the server to record the client ACKs', async () => {
    const mine = await streamOf(s.cp);
    if (!mine) return undefined;
    const dump = Object.fromEntries(s.ads.configDump().map((d) => [d.type_url, d]));
    for (const t of [LDS, RDS, CDS, EDS]) {
      if (!dump[t].version_info || mine.types[t]?.last_acked_version !== dump[t].version_info) return undefined;
    }
    return mine;
  });
}

for (const api of ['sotw', 'delta'] as const) {
  test(`${api} a: wildcard LDS/CDS and named RDS/EDS arrive decoded; /status shows the node and its ACKs`, async () => {
    const s = await setup(api, mesh());
    try {
      assert.deepEqual(s.h.lds.names(), ['L1', 'L2']);
      assert.deepEqual(s.h.cds.names(), ['C1', 'C2']);
      assert.deepEqual(s.h.rds.names(), ['R1'], 'RDS by name: only R1');
      assert.deepEqual(s.h.eds.names(), ['C1', 'C2']);
      // Canonical objects, Any unpacked, Duration as {seconds, nanos}.
      const l1 = s.h.lds.held.get('L1')!;
      assert.equal(l1.address.socket_address.port_value, 15001);
      const hcm = l1.filter_chains[0].filters[0].typed_config;
      assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
      assert.equal(hcm.rds.route_config_name, 'R1');
      assert.deepEqual(s.h.cds.held.get('C1')!.connect_timeout.seconds, 1);
      assert.equal(s.h.cds.held.get('C1')!.type, 'EDS');
      assert.equal(claPort(s.h.eds.held.get('C1')!), 7001);
      assert.equal(s.h.rds.held.get('R1')!.virtual_hosts[0].routes[0].route.cluster, 'C1');

      const mine = await serverSeesAcks(s);
      assert.equal(mine.stream.api, api);
      assert.equal(mine.stream.node_cluster, 'cluster-a');
      assert.deepEqual(mine.types[LDS].subscribed, ['*']);
      assert.deepEqual(mine.types[CDS].subscribed, ['*']);
      assert.deepEqual(mine.types[RDS].subscribed, ['R1']);
      assert.deepEqual(mine.types[EDS].subscribed, ['C1', 'C2']);
      for (const t of [LDS, RDS, CDS, EDS]) assert.equal(mine.types[t].last_nack, undefined, `${t} not NACKed`);

      const dump = Object.fromEntries(s.ads.configDump().map((d) => [d.type_url, d]));
      assert.deepEqual(dump[CDS].resources.map((r) => r.name), ['C1', 'C2']);
      for (const r of dump[CDS].resources) assert.ok(r.version && r.last_updated && r.resource && !r.error_state, JSON.stringify(r));
      if (api === 'delta') assert.deepEqual(mine.types[CDS].resource_versions, Object.fromEntries(dump[CDS].resources.map((r) => [r.name, r.version])));
      assert.equal(s.ads.state().t, 'ready');
    } finally {
      await s.ads.close();
      await s.cp.kill();
    }
  });

  test(`${api} b: a mesh edit pushes the change to the handler and a deleted cluster is removed`, async () => {
    const s = await setup(api, mesh());
    try {
      await serverSeesAcks(s);
      const cdsBefore = s.h.cds.updates.length;
      const edsBefore = s.h.eds.updates.length;
      const ldsBefore = s.h.lds.updates.length;
      s.cp.writeMesh(mesh({ c1Port: 7002, withC2: false }));
      const cdsUp = await waitFor('the CDS update', () => s.h.cds.updates[cdsBefore]);
      const edsUp = await waitFor('the EDS update', () => s.h.eds.updates[edsBefore]);
      assert.deepEqual(cdsUp.removed, ['C2'], 'the deleted cluster is a removal');
      assert.deepEqual(s.h.cds.names(), ['C1']);
      assert.equal(claPort(edsUp.added.get('C1')!.resource), 7002);
      assert.equal(claPort(s.h.eds.held.get('C1')!), 7002);
      if (api === 'delta') {
        assert.deepEqual([...cdsUp.added.keys()], [], 'the unchanged C1 cluster is not resent');
        assert.deepEqual([...edsUp.added.keys()], ['C1'], 'only the changed CLA');
        assert.deepEqual(edsUp.removed, ['C2'], 'the server removes the CLA it no longer has');
      } else {
        assert.deepEqual([...cdsUp.added.keys()], ['C1'], 'SotW: the full set');
        assert.deepEqual([...edsUp.added.keys()], ['C1'], 'SotW: every subscribed CLA the server has');
        // SotW, EDS: a CLA missing from a response is not a removal (xDS protocol doc).
        assert.deepEqual(edsUp.removed, []);
        assert.deepEqual(s.h.eds.names(), ['C1', 'C2']);
      }
      // R2 now routes to C1: pushed to nobody, since only R1 is watched. LDS did not change.
      assert.equal(s.h.lds.updates.length, ldsBefore, 'LDS was not pushed');
      await serverSeesAcks(s);
    } finally {
      await s.ads.close();
      await s.cp.kill();
    }
  });

  test(`${api} c: a rejected resource is NACKed with its name and message; the rest applies; the ACKed version stays`, async () => {
    const s = await setup(api, mesh());
    try {
      const acked = (await serverSeesAcks(s)).types[CDS].last_acked_version;
      const before = s.h.cds.updates.length;
      s.h.cds.reject = (name) => (name === 'C3' ? 'C3 is not welcome here' : undefined);
      s.cp.writeMesh(mesh({ c1Timeout: '2s', withC3: true }));
      const up = await waitFor('the CDS update', () => s.h.cds.updates[before]);
      assert.deepEqual([...up.added.keys()].sort(), api === 'delta' ? ['C1', 'C3'] : ['C1', 'C2', 'C3']);
      assert.deepEqual(s.h.cds.held.get('C1')!.connect_timeout.seconds, 2, 'the good resource of the NACKed response applied');
      assert.deepEqual(s.h.cds.names(), ['C1', 'C2']);

      const cds = await waitFor('the NACK in /status', async () => (await streamOf(s.cp))?.types[CDS]?.last_nack ? (await streamOf(s.cp)).types[CDS] : undefined);
      assert.match(cds.last_nack.error_detail, /^C3: C3 is not welcome here$/m);
      assert.ok(!cds.last_nack.error_detail.includes('C1'), cds.last_nack.error_detail);
      assert.equal(cds.last_acked_version, acked, 'the server still has the previous ACK');

      const dump = s.ads.configDump().find((d) => d.type_url === CDS)!;
      assert.equal(dump.version_info, acked, 'the client keeps the last accepted version_info');
      assert.ok(dump.last_nack && dump.last_nack.details.includes('C3: C3 is not welcome here'));
      const c3 = dump.resources.find((r) => r.name === 'C3')!;
      assert.equal(c3.version, undefined, 'C3 was never accepted');
      assert.equal(c3.error_state?.details, 'C3: C3 is not welcome here');
      assert.equal(c3.error_state?.failed_configuration?.type_url, CDS);
      const c1 = dump.resources.find((r) => r.name === 'C1')!;
      assert.ok(c1.resource && !c1.error_state);
    } finally {
      await s.ads.close();
      await s.cp.kill();
    }
  });

  test(`${api} d: the control plane is SIGKILLed and restarted; the client reconnects and resubscribes without a removal`, async () => {
    const first = await startCp(mesh());
    const s = await setup(api, undefined, ['C1', 'C2'], first);
    let second: Cp | undefined;
    try {
      await serverSeesAcks(s);
      const held = () => ({ l: s.h.lds.names(), r: s.h.rds.names(), c: s.h.cds.names(), e: s.h.eds.names() });
      const heldBefore = held();
      const versionsBefore = s.ads.configDump();
      const counts = Object.fromEntries(Object.entries(s.h).map(([k, r]) => [k, r.updates.length]));
      const opened = s.ads.streamsOpened;

      await first.kill();
      await waitFor('the client to notice the stream is gone', () => s.ads.state().t !== 'ready');
      second = await startCp(undefined, { meshFile: first.meshFile, adsPort: first.adsPort, statusPort: first.statusPort });
      s.cp = second;
      await waitFor('the client to reconnect by itself', () => s.ads.state().t === 'ready', { attempts: 300, intervalMs: 100 });
      assert.ok(s.ads.streamsOpened > opened);

      // The new server sees every subscription again, and the client's ACKs.
      const mine = await waitFor('the resubscription in /status', async () => {
        const m = await streamOf(second!);
        return m && m.types[EDS] && m.types[RDS] && m.types[LDS]?.last_acked_version && m.types[CDS]?.last_acked_version ? m : undefined;
      });
      assert.deepEqual(mine.types[LDS].subscribed, ['*']);
      assert.deepEqual(mine.types[CDS].subscribed, ['*']);
      assert.deepEqual(mine.types[RDS].subscribed, ['R1']);
      assert.deepEqual(mine.types[EDS].subscribed, ['C1', 'C2']);

      for (const r of Object.values(s.h)) assert.deepEqual(r.removedEver, [], 'no removal, during the outage or after');
      assert.deepEqual(held(), heldBefore, 'the handlers still hold everything');
      const after = Object.fromEntries(s.ads.configDump().map((d) => [d.type_url, d]));
      for (const d of versionsBefore) assert.equal(after[d.type_url].version_info, d.version_info, `${d.type_url}: same version`);
      if (api === 'delta') {
        // initial_resource_versions: the server knows what the client holds, and resends nothing.
        const cdsVersions = Object.fromEntries(after[CDS].resources.map((r) => [r.name, r.version]));
        assert.deepEqual(mine.types[CDS].resource_versions, cdsVersions);
        for (const [k, r] of Object.entries(s.h)) {
          for (const u of r.updates.slice(counts[k])) assert.equal(u.added.size, 0, `${k}: nothing resent after the reconnect`);
        }
      } else {
        assert.ok(mine.types[CDS].last_acked_version === after[CDS].version_info);
      }
    } finally {
      await s.ads.close();
      await first.kill();
      await second?.kill();
    }
  });

  test(`${api} e: updateWatch adds and removes EDS names and the server follows`, async () => {
    const s = await setup(api, mesh(), ['C1']);
    try {
      assert.deepEqual(s.h.eds.names(), ['C1']);
      let n = s.h.eds.updates.length;
      s.ads.updateWatch(EDS, ['C1', 'C2']);
      const up = await waitFor('C2 to arrive', () => s.h.eds.updates[n]);
      assert.ok(up.added.has('C2'));
      assert.equal(claPort(up.added.get('C2')!.resource), 7100);
      if (api === 'delta') assert.deepEqual([...up.added.keys()], ['C2'], 'delta: only the new name');
      await waitFor('/status to show both names', async () => (await streamOf(s.cp))?.types[EDS]?.subscribed?.join() === 'C1,C2');

      s.ads.updateWatch(EDS, ['C2']);
      await waitFor('/status to show C2 only', async () => (await streamOf(s.cp))?.types[EDS]?.subscribed?.join() === 'C2');
      assert.deepEqual(s.ads.configDump().find((d) => d.type_url === EDS)!.resources.map((r) => r.name), ['C2'], 'the client forgot C1');
      n = s.h.eds.updates.length;
      s.cp.writeMesh(mesh({ c1Port: 7002, c2Port: 7200 }));
      const pushed = await waitFor('the EDS push after the edit', () => s.h.eds.updates[n]);
      assert.deepEqual([...pushed.added.keys()], ['C2'], 'the unsubscribed C1 is not pushed');
      assert.equal(claPort(pushed.added.get('C2')!.resource), 7200);
    } finally {
      await s.ads.close();
      await s.cp.kill();
    }
  });
}

test('the first request of every stream carries the node: id, metadata, locality, user agent, client features', async () => {
  // A real gRPC server with the ADS service definition; it records requests and ends each
  // stream after its first request, so the client has to open a second stream.
  const firsts: any[] = [];
  let later = 0;
  const server = new grpc.Server();
  server.addService(adsDefinition(), {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<any, any>) => {
      let n = 0;
      call.on('data', (req: any) => {
        if (n++ === 0) {
          firsts.push(req);
          setTimeout(() => call.end(), 10);
        } else later++;
      });
      call.on('error', () => undefined);
    },
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<any, any>) => call.end(),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const ads = new AdsClient({ target: `127.0.0.1:${port}`, api: 'sotw', node: NODE, backoff: FAST, lbDoesNotSupportOverprovisioning: true });
  try {
    ads.watch(CDS, '*', new Recorder(), { initialFetchTimeoutMs: 0 });
    ads.watch(EDS, ['C1'], new Recorder(), { initialFetchTimeoutMs: 0 });
    await waitFor('two streams', () => firsts.length >= 2, { attempts: 200 });
    for (const req of firsts) {
      const node = req.node;
      assert.ok(node, `the first request of a stream has the node: ${JSON.stringify(req)}`);
      assert.equal(node.id, 'node-a');
      assert.equal(node.cluster, 'cluster-a');
      assert.equal(node.metadata.fields.team.string_value ?? node.metadata.fields.team.stringValue, 'edge');
      assert.deepEqual({ region: node.locality.region, zone: node.locality.zone }, { region: 'r1', zone: 'z1' });
      assert.equal(node.user_agent_name, 'switchyard');
      const [maj, min, pat] = VERSION.split('.').map(Number);
      assert.deepEqual(node.user_agent_build_version.version, { major_number: maj, minor_number: min, patch: pat });
      assert.ok(node.client_features.includes('envoy.lb.does_not_support_overprovisioning'));
      assert.ok(node.client_features.includes('xds.config.resource-in-sotw'));
      assert.equal(req.type_url, CDS, 'CDS was watched first');
      assert.deepEqual(req.resource_names, ['*']);
    }
    assert.ok(later >= 1, 'the other requests of a stream follow');
  } finally {
    await ads.close();
    server.forceShutdown();
  }
});

test('responses the reference server never sends: an unwatched type is ignored, bad resources are NACKed one by one, garbage resets the stream', async () => {
  // A real gRPC server that writes raw response bytes, to send what a correct control plane would not.
  const { toAny } = await import('../../src/xds/proto/binary');
  const { mustLookupType } = await import('../../src/xds/proto/root');
  const Res = mustLookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const enc = (m: object) => Buffer.from(Res.encode(Res.fromObject(m)).finish());
  const good = toAny('envoy.config.cluster.v3.Cluster', { name: 'a', type: 'STATIC', connect_timeout: { seconds: 1 } });
  const wrongType = toAny('envoy.config.listener.v3.Listener', { name: 'l' });
  const badRule = toAny('envoy.config.cluster.v3.Cluster', { name: 'b', type: 'STATIC', connect_timeout: { seconds: -1 } });
  const streams: any[][] = [];
  const server = new grpc.Server();
  server.addService(rawAdsService(), {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<any, Buffer>) => {
      const reqs: any[] = [];
      streams.push(reqs);
      call.on('error', () => undefined);
      call.on('data', (req: any) => {
        reqs.push(req);
        if (streams.length > 1) return; // the second stream only listens
        if (reqs.length === 1) {
          call.write(enc({ type_url: LDS, version_info: 'x', nonce: 'n0', resources: [] }));
          call.write(enc({ type_url: CDS, version_info: 'v1', nonce: 'n1', resources: [good, wrongType, badRule] }));
        } else if (reqs.length === 2) {
          call.write(Buffer.from([0xff, 0xff, 0xff]));
        }
      });
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const ads = new AdsClient({ target: `127.0.0.1:${port}`, api: 'sotw', node: NODE, backoff: FAST });
  const h = new Recorder();
  try {
    ads.watch(CDS, '*', h);
    assert.equal(await ads.ready(CDS), 'received');
    await waitFor('a second stream after the garbage', () => streams.length >= 2 && streams[1].length >= 1, { attempts: 200 });
    const [first, second] = streams;
    assert.equal(first.length, 2, `the LDS response got no answer: ${JSON.stringify(first.map((r) => r.type_url))}`);
    const nack = first[1];
    assert.equal(nack.type_url, CDS);
    assert.equal(nack.response_nonce, 'n1');
    assert.equal(nack.version_info ?? '', '', 'no version was ever accepted');
    assert.equal(nack.error_detail.code, 3);
    assert.equal(nack.error_detail.message, [
      `resources[1]: type_url: expected "${CDS}", got "${LDS}"`,
      'b: connect_timeout: value must be > 0s',
    ].join('\n'));
    assert.deepEqual(h.names(), ['a'], 'the good resource of the NACKed response applied');
    // The new stream starts over: node again, no nonce, the last accepted version (none).
    assert.equal(second[0].node?.id, 'node-a');
    assert.equal(second[0].response_nonce ?? '', '');
    assert.deepEqual(second[0].resource_names, ['*']);
    assert.deepEqual(h.removedEver, []);
  } finally {
    await ads.close();
    server.forceShutdown();
  }
});
