// The reference xDS management server (`switchyard control-plane`), driven by clients:
//   a. a hand-written ADS client (grpc-js + protobufjs types): SotW and Delta protocol rules
//      of Envoy's xDS protocol doc (ACK/NACK, stale nonces, wildcard, removals, reconnects);
//   b. @grpc/grpc-js-xds, a real xDS client: `xds:///echo-service` follows an endpoint move;
//   c. Debian's python3-grpcio, another real xDS client, following the same move.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FIXTURES, REPO_ROOT, exec, tempDir, trackProcess, waitFor } from './harness';
import { AdsStream, TYPE, cla, claPort, decodeAll, deltaVersions, edsCluster as cluster, rdsListener as listener, routeConfig as route, sotwNames, startControlPlane } from './xds_helpers';

// ---------------------------------------------------------------- meshes


/** node-a gets L1/L2, R1/R2, C1/C2 and their CLAs; every other node gets the default D1. */
function meshA(o: { c1Port: number; withC2: boolean; l1Port?: number }) {
  return {
    groups: [{
      match: { node_id: 'node-a' },
      listeners: [listener('L1', o.l1Port ?? 15001, 'R1'), listener('L2', 15002, 'R2')],
      route_configurations: [route('R1', 'C1'), route('R2', o.withC2 ? 'C2' : 'C1')],
      clusters: [cluster('C1'), ...(o.withC2 ? [cluster('C2')] : [])],
      cluster_load_assignments: [cla('C1', o.c1Port), ...(o.withC2 ? [cla('C2', 7100)] : [])],
    }],
    default: { listeners: [listener('D1', 15009, 'R1')] },
  };
}

const NODE_A = { id: 'node-a', cluster: 'cluster-a' };

// ---------------------------------------------------------------- a. hand-written client, SotW

test('SotW: wildcard LDS/CDS, named RDS/EDS, ACK without resend, NACK in /status, stale nonce ignored, mesh edit pushes only what changed', async () => {
  const cp = await startControlPlane(meshA({ c1Port: 7001, withC2: true }));
  const s = new AdsStream(cp.adsPort, 'sotw');
  try {
    // Legacy wildcard: the first LDS request names nothing -> every listener of node-a's group.
    s.send({ node: NODE_A, type_url: TYPE.LDS, resource_names: [] });
    const lds = await s.next();
    assert.equal(lds.type_url, TYPE.LDS);
    assert.deepEqual(sotwNames(lds), ['L1', 'L2']);
    assert.ok(lds.version_info && lds.nonce, 'a response has a version and a nonce');

    // ACK it, then ask for CDS: the next response must be CDS, so the ACK caused no resend.
    s.send({ type_url: TYPE.LDS, version_info: lds.version_info, response_nonce: lds.nonce });
    s.send({ type_url: TYPE.CDS, resource_names: [] });
    const cds = await s.next();
    assert.equal(cds.type_url, TYPE.CDS, 'an ACK must not be answered with a resend');
    assert.deepEqual(sotwNames(cds), ['C1', 'C2']);
    s.send({ type_url: TYPE.CDS, version_info: cds.version_info, response_nonce: cds.nonce });

    // Named subscriptions get exactly what they name.
    s.send({ type_url: TYPE.RDS, resource_names: ['R1'] });
    const rds = await s.next();
    assert.equal(rds.type_url, TYPE.RDS);
    assert.deepEqual(sotwNames(rds), ['R1']);
    s.send({ type_url: TYPE.EDS, resource_names: ['C1', 'C2'] });
    const eds = await s.next();
    assert.equal(eds.type_url, TYPE.EDS);
    assert.deepEqual(sotwNames(eds), ['C1', 'C2']);
    s.send({ type_url: TYPE.EDS, version_info: eds.version_info, response_nonce: eds.nonce, resource_names: ['C1', 'C2'] });

    // NACK the RDS response (version_info stays the previous good one: empty).
    const detail = 'route R1: rejected by the test client';
    s.send({ type_url: TYPE.RDS, version_info: '', response_nonce: rds.nonce, resource_names: ['R1'], error_detail: { code: 3, message: detail } });
    // A stale nonce (an older response's) with a new name list is ignored.
    s.send({ type_url: TYPE.RDS, version_info: '', response_nonce: lds.nonce, resource_names: ['R1', 'R2'] });
    // First SDS request: always answered. Being next proves neither the NACK nor the stale request got a response.
    s.send({ type_url: TYPE.SDS, resource_names: ['no-such-secret'] });
    const sds = await s.next();
    assert.equal(sds.type_url, TYPE.SDS, 'a NACK or a stale request must not be answered');
    assert.deepEqual(sds.resources, []);

    const st = await cp.status();
    const mine = st.streams.find((x: any) => x.node_id === 'node-a');
    assert.ok(mine, `node-a in /status: ${JSON.stringify(st)}`);
    assert.equal(mine.api, 'sotw');
    assert.equal(mine.node_cluster, 'cluster-a');
    const byType = Object.fromEntries(mine.types.map((t: any) => [t.type_url, t]));
    assert.equal(byType[TYPE.LDS].last_acked_version, lds.version_info);
    assert.deepEqual(byType[TYPE.LDS].subscribed, ['*']);
    assert.deepEqual(byType[TYPE.RDS].subscribed, ['R1'], 'the stale request must not change the subscription');
    assert.equal(byType[TYPE.RDS].last_nack?.error_detail, detail);
    assert.equal(byType[TYPE.RDS].last_nack?.version, rds.version_info);
    assert.equal(byType[TYPE.RDS].last_nack?.nonce, rds.nonce);
    assert.equal(byType[TYPE.RDS].last_acked_version, undefined);
    assert.ok(cp.logs().includes('NACK') && cp.logs().includes(detail), `NACK logged:\n${cp.logs()}`);

    // With the latest nonce, a new name list is a subscription change: answered with both.
    s.send({ type_url: TYPE.RDS, version_info: rds.version_info, response_nonce: rds.nonce, resource_names: ['R1', 'R2'] });
    const rds2 = await s.next();
    assert.equal(rds2.type_url, TYPE.RDS);
    assert.deepEqual(sotwNames(rds2), ['R1', 'R2']);
    s.send({ type_url: TYPE.RDS, version_info: rds2.version_info, response_nonce: rds2.nonce, resource_names: ['R1', 'R2'] });

    // Edit the mesh: only C1's endpoint moves. The push is EDS, with the full subscribed set.
    cp.writeMesh(meshA({ c1Port: 7002, withC2: true }));
    const eds2 = await s.next();
    assert.equal(eds2.type_url, TYPE.EDS, 'only the changed type is pushed');
    assert.notEqual(eds2.version_info, eds.version_info);
    const clas = Object.fromEntries(decodeAll(eds2).map((c) => [c.cluster_name, c]));
    assert.deepEqual(Object.keys(clas).sort(), ['C1', 'C2']);
    assert.equal(claPort(clas.C1), 7002);
    s.send({ type_url: TYPE.EDS, version_info: eds2.version_info, response_nonce: eds2.nonce, resource_names: ['C1', 'C2'] });
    // Leaving the legacy wildcard by naming L1 is a change: answered with L1 alone; being next
    // proves LDS/CDS/RDS were not re-pushed for an edit that did not touch them.
    s.send({ type_url: TYPE.LDS, version_info: lds.version_info, response_nonce: lds.nonce, resource_names: ['L1'] });
    const lds2 = await s.next();
    assert.equal(lds2.type_url, TYPE.LDS, 'unchanged types are not pushed on a mesh edit');
    assert.deepEqual(sotwNames(lds2), ['L1']);

    // Another node is served the default group.
    const other = new AdsStream(cp.adsPort, 'sotw');
    try {
      other.send({ node: { id: 'stranger' }, type_url: TYPE.LDS });
      assert.deepEqual(sotwNames(await other.next()), ['D1']);
    } finally {
      other.close();
    }
  } finally {
    s.close();
  }
});

test('a malformed mesh edit is rejected with file, field path and reason; the previous version keeps serving', async () => {
  const cp = await startControlPlane(meshA({ c1Port: 7001, withC2: true }));
  const s = new AdsStream(cp.adsPort, 'sotw');
  try {
    s.send({ node: NODE_A, type_url: TYPE.CDS });
    const before = await s.next();
    const good = await cp.status();

    const bad = meshA({ c1Port: 7001, withC2: true }) as any;
    bad.groups[0].clusters[0].connect_timeout = 5; // a Duration must be a string like "5s"
    bad.groups[0].clusters[1].lb_polcy = 'ROUND_ROBIN'; // a typo
    cp.writeMesh(bad);
    await waitFor('the reload to be rejected', () => cp.logs().includes('mesh reload rejected'));
    const logs = cp.logs();
    assert.ok(logs.includes(cp.meshFile), `the error names the file:\n${logs}`);
    assert.ok(/groups\[0\]\.clusters\[0\]\.connect_timeout: expected duration/.test(logs), `field path and reason:\n${logs}`);
    assert.ok(/groups\[0\]\.clusters\[1\]: unknown field \\?"lb_polcy\\?"/.test(logs), `every error is listed:\n${logs}`);

    const st = await cp.status();
    assert.equal(st.mesh.generation, good.mesh.generation, 'the bad file is not served');
    assert.ok(st.mesh.last_reload_error?.message.includes('connect_timeout'));
    // A new client still gets the previous version.
    const s2 = new AdsStream(cp.adsPort, 'sotw');
    try {
      s2.send({ node: NODE_A, type_url: TYPE.CDS });
      const again = await s2.next();
      assert.equal(again.version_info, before.version_info);
    } finally {
      s2.close();
    }

    // Fixing the file serves the fix.
    cp.writeMesh(meshA({ c1Port: 7001, withC2: false }));
    const pushed = await s.next();
    assert.equal(pushed.type_url, TYPE.CDS);
    assert.deepEqual(sotwNames(pushed), ['C1']);
    assert.equal((await cp.status()).mesh.last_reload_error, undefined);
  } finally {
    s.close();
  }
});

// ---------------------------------------------------------------- a. hand-written client, Delta

test('Delta: wildcard and named subscriptions, changed resources only, removed_resources, NACK, initial_resource_versions on reconnect', async () => {
  const cp = await startControlPlane(meshA({ c1Port: 7001, withC2: true }));
  const d = new AdsStream(cp.adsPort, 'delta');
  let ldsVersions: Record<string, string>;
  let cdsVersions: Record<string, string>;
  try {
    // Legacy wildcard: a first Listener request subscribing to nothing.
    d.send({ node: NODE_A, type_url: TYPE.LDS });
    const lds = await d.next();
    assert.equal(lds.type_url, TYPE.LDS);
    ldsVersions = deltaVersions(lds);
    assert.deepEqual(Object.keys(ldsVersions).sort(), ['L1', 'L2']);
    assert.ok(lds.nonce);
    d.send({ type_url: TYPE.LDS, response_nonce: lds.nonce });

    d.send({ type_url: TYPE.CDS, resource_names_subscribe: ['*'] });
    const cds = await d.next();
    assert.equal(cds.type_url, TYPE.CDS, 'an ACK is not answered');
    cdsVersions = deltaVersions(cds);
    assert.deepEqual(Object.keys(cdsVersions).sort(), ['C1', 'C2']);
    d.send({ type_url: TYPE.CDS, response_nonce: cds.nonce });

    d.send({ type_url: TYPE.EDS, resource_names_subscribe: ['C1'] });
    const eds = await d.next();
    assert.equal(eds.type_url, TYPE.EDS);
    assert.deepEqual(Object.keys(deltaVersions(eds)), ['C1']);
    d.send({ type_url: TYPE.EDS, response_nonce: eds.nonce });

    // Edit: C1's endpoint moves and C2 (cluster and CLA) is deleted.
    cp.writeMesh(meshA({ c1Port: 7002, withC2: false }));
    const pushed = [await d.next(), await d.next()];
    const cds2 = pushed.find((m) => m.type_url === TYPE.CDS);
    const eds2 = pushed.find((m) => m.type_url === TYPE.EDS);
    assert.ok(cds2 && eds2, `a CDS and an EDS update: ${JSON.stringify(pushed.map((m) => m.type_url))}`);
    assert.deepEqual(cds2.resources, [], 'the unchanged C1 cluster is not resent');
    assert.deepEqual(cds2.removed_resources, ['C2']);
    assert.deepEqual(Object.keys(deltaVersions(eds2)), ['C1']);
    assert.notEqual(deltaVersions(eds2).C1, deltaVersions(eds).C1);
    assert.equal(claPort(decodeAll({ resources: eds2.resources.map((r: any) => r.resource) })[0]), 7002);
    assert.deepEqual(eds2.removed_resources, [], 'C2 was never subscribed on EDS');
    d.send({ type_url: TYPE.CDS, response_nonce: cds2.nonce });

    const detail = 'C1: endpoint rejected by the test client';
    d.send({ type_url: TYPE.EDS, response_nonce: eds2.nonce, error_detail: { code: 3, message: detail } });
    const st = await waitFor('the delta NACK in /status', async () => {
      const j = await cp.status();
      const mine = j.streams.find((x: any) => x.api === 'delta');
      const e = mine?.types.find((t: any) => t.type_url === TYPE.EDS);
      return e?.last_nack ? { mine, e } : undefined;
    });
    assert.equal(st.e.last_nack.error_detail, detail);
    assert.equal(st.e.last_nack.nonce, eds2.nonce);
    assert.deepEqual(st.mine.types.find((t: any) => t.type_url === TYPE.CDS).subscribed, ['*']);
  } finally {
    d.close();
  }

  // Reconnect: L1 is held at the current version, L2 at an old one; C2 no longer exists.
  const r = new AdsStream(cp.adsPort, 'delta');
  try {
    r.send({ node: NODE_A, type_url: TYPE.LDS, initial_resource_versions: { L1: ldsVersions.L1, L2: 'some-old-version' } });
    const lds = await r.next();
    assert.equal(lds.type_url, TYPE.LDS);
    assert.deepEqual(Object.keys(deltaVersions(lds)), ['L2'], 'L1 is held at the current version: not resent');
    r.send({ type_url: TYPE.LDS, response_nonce: lds.nonce });
    r.send({ type_url: TYPE.CDS, resource_names_subscribe: ['*'], initial_resource_versions: { C1: cdsVersions.C1, C2: cdsVersions.C2 } });
    const cds = await r.next();
    assert.equal(cds.type_url, TYPE.CDS);
    assert.deepEqual(cds.resources, []);
    assert.deepEqual(cds.removed_resources, ['C2'], 'a held resource that is gone is removed');
  } finally {
    r.close();
  }
});

test('control-plane exits on SIGTERM', async () => {
  const cp = await startControlPlane(meshA({ c1Port: 7001, withC2: true }));
  const exited = new Promise<number | null>((res) => cp.child.once('exit', (code) => res(code)));
  process.kill(cp.child.pid!, 'SIGTERM');
  assert.equal(await Promise.race([exited, new Promise<string>((res) => setTimeout(() => res('still running'), 10_000))]), 0);
});

test('control-plane rejects a bad mesh at start, naming the file and field', async () => {
  const bad = meshA({ c1Port: 70000, withC2: true });
  const file = path.join(tempDir('switchyard-xds-'), 'bad-mesh.yaml');
  fs.writeFileSync(file, JSON.stringify(bad));
  const r = await exec(process.execPath, [path.join(REPO_ROOT, 'bin', 'switchyard.js'), 'control-plane', '-c', file, '--address', '127.0.0.1:0'], { timeoutMs: 30_000 });
  assert.equal(r.exitCode, 1, r.stderr);
  assert.ok(r.stderr.includes('bad-mesh.yaml'), r.stderr);
  assert.ok(r.stderr.includes('groups[0].cluster_load_assignments[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value'), r.stderr);
});

// ---------------------------------------------------------------- b/c. real xDS clients

const echoDef = protoLoader.loadSync(path.join(FIXTURES, 'echo.proto'), { keepCase: true });
const echoPkg = grpc.loadPackageDefinition(echoDef).pkg as any;

/** A @grpc/grpc-js pkg.Echo server on 127.0.0.1 that answers with its own name. */
async function echoServer(name: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echoPkg.Echo.service, {
    Say: (call: any, cb: grpc.sendUnaryData<unknown>) => cb(null, { message: call.request.message, server: name }),
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { port, server };
}

/** gRPC's client-side xDS resources: api_listener -> RDS -> EDS cluster -> endpoint at `port`. */
function grpcMesh(port: number) {
  return {
    default: {
      listeners: [{
        name: 'echo-service',
        api_listener: { api_listener: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'echo',
          rds: { route_config_name: 'echo-route', config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } },
      }],
      route_configurations: [{
        name: 'echo-route',
        virtual_hosts: [{ name: 'echo', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: 'echo' } }] }],
      }],
      clusters: [{ name: 'echo', type: 'EDS', lb_policy: 'ROUND_ROBIN', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } }],
      cluster_load_assignments: [{
        cluster_name: 'echo',
        // gRPC ignores localities without a weight (gRFC A27).
        endpoints: [{ locality: { region: 'r1', zone: 'z1' }, load_balancing_weight: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
      }],
    },
  };
}

function bootstrapFile(adsPort: number, nodeId: string): string {
  const file = path.join(tempDir('switchyard-xds-bs-'), 'bootstrap.json');
  fs.writeFileSync(file, JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${adsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'test', locality: {} },
  }));
  return file;
}

interface CallLine { ok: boolean; server?: string; error?: string }

/** Runs an xDS echo client process; `lines` fills with its per-call results. */
function runEchoClient(cmd: string, args: string[], bootstrap: string): { child: ChildProcess; lines: CallLine[]; stderr: () => string } {
  const child = trackProcess(spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines: CallLine[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (l) lines.push(JSON.parse(l));
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return { child, lines, stderr: () => err };
}

async function followsEndpointMove(name: string, start: (bootstrap: string) => ReturnType<typeof runEchoClient>): Promise<void> {
  const a = await echoServer(`${name}-A`);
  const b = await echoServer(`${name}-B`);
  try {
    const cp = await startControlPlane(grpcMesh(a.port));
    const client = start(bootstrapFile(cp.adsPort, `${name}-client`));
    const okFrom = (server: string, after = 0) => client.lines.slice(after).filter((l) => l.ok && l.server === server).length;
    const why = () => `calls: ${JSON.stringify(client.lines.slice(-5))}\nclient stderr: ${client.stderr().slice(-2000)}\ncontrol plane:\n${cp.logs().slice(-2000)}`;
    await waitFor(`${name}: 3 RPCs answered by A`, () => {
      if (client.child.exitCode !== null) throw new Error(`client exited ${client.child.exitCode}: ${why()}`);
      return okFrom(`${name}-A`) >= 3;
    }, { attempts: 300, intervalMs: 100 }).catch((e) => assert.fail(`${e.message}\n${why()}`));

    const st = await cp.status();
    const stream = st.streams.find((x: any) => x.node_id === `${name}-client`);
    assert.ok(stream, `the client's stream in /status: ${JSON.stringify(st.streams)}`);
    for (const t of [TYPE.LDS, TYPE.RDS, TYPE.CDS, TYPE.EDS]) {
      const ts = stream.types.find((x: any) => x.type_url === t);
      assert.ok(ts?.last_acked_version, `${t} ACKed by the client: ${JSON.stringify(stream.types)}`);
    }

    const mark = client.lines.length;
    cp.writeMesh(grpcMesh(b.port));
    await waitFor(`${name}: 3 RPCs in a row answered by B after the move`, () => {
      const tail = client.lines.slice(mark).slice(-3);
      return tail.length === 3 && tail.every((l) => l.ok && l.server === `${name}-B`);
    }, { attempts: 300, intervalMs: 100 }).catch((e) => assert.fail(`${e.message}\n${why()}`));
    assert.ok(okFrom(`${name}-B`, mark) >= 3);
  } finally {
    a.server.forceShutdown();
    b.server.forceShutdown();
  }
}

test('@grpc/grpc-js-xds client: xds:///echo-service reaches the endpoint the mesh names, and follows it when it moves', async () => {
  await followsEndpointMove('node', (bs) => runEchoClient(process.execPath, [path.join(FIXTURES, 'xds_echo_client.js'), 'xds:///echo-service', '100'], bs));
});

test('Debian python3-grpcio client: xds:///echo-service reaches the endpoint the mesh names, and follows it when it moves', async (t) => {
  const py = '/usr/bin/python3';
  const probe = await exec(py, ['-c', 'import grpc; print(grpc.__version__)'], { timeoutMs: 30_000 }).catch(() => undefined);
  if (!probe || probe.exitCode !== 0) {
    t.skip(`${py} with grpc is not installed (apt-get install python3-grpcio)`);
    return;
  }
  await followsEndpointMove('python', (bs) => runEchoClient(py, [path.join(FIXTURES, 'xds_echo_client.py'), 'xds:///echo-service', '0.1'], bs));
});
