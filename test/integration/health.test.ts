// Health checking from the user's side: the proxy binary with real backends whose health
// the test flips, read back through real requests (which backend answered) and the admin
// API (/clusters health flags, /stats). Active checks over HTTP/1.1, TCP (send/receive
// payloads) and gRPC (a real @grpc/grpc-js grpc.health.v1 server); outlier detection
// ejecting a backend that answers 5xx; panic mode; EDS health_status and removal of a host
// that still passes its checks, over xDS from the reference control plane. Every wait is
// bounded in attempts; no timing is asserted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FIXTURES, freePort, httpRequest, startProxy, trackResource, waitFor, type Proxy } from './harness';
import { startControlPlane, type ControlPlane } from './xds_helpers';
import { startBackend, type Backend } from './health_backend';
import { ADMIN_YAML, hcmListenerYaml, routeYaml, tcpProxyListenerYaml } from './bootstrap_yaml';

/** A TCP server answering `reply` to every `PING` it reads. */
function startTcpPong(reply: string): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => {
      if (d.toString().includes('PING')) s.write(reply);
      else s.end('proxied:' + reply);
    });
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      trackResource(() => new Promise<void>((r) => srv.close(() => r())));
      resolve((srv.address() as net.AddressInfo).port);
    });
  });
}

/** A @grpc/grpc-js server implementing grpc.health.v1.Health with a fixed status per service. */
async function startGrpcHealth(statuses: Record<string, string>): Promise<{ port: number; seen: string[] }> {
  const def = protoLoader.loadSync(path.join(FIXTURES, 'health.proto'), { keepCase: true, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const server = new grpc.Server();
  const seen: string[] = [];
  server.addService(pkg.grpc.health.v1.Health.service, {
    Check: (call: any, cb: any) => {
      if (seen.length < 1000) seen.push(call.request.service);
      const st = statuses[call.request.service];
      if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status: st });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  trackResource(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return { port, seen };
}

const ep = (port: number, extra = '') => `
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }${extra}`;
const cluster = (name: string, body: string, ports: number[]) => `
  - name: ${name}
    connect_timeout: 1s
    type: STATIC
${body}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:${ports.map((p) => ep(p)).join('')}`;
const httpHc = (extra = '') => `    health_checks:
    - timeout: 1s
      interval: 0.1s
      no_traffic_interval: 0.1s
      unhealthy_threshold: 2
      healthy_threshold: 2
      http_health_check:
        path: /healthz
        request_headers_to_add: [{ header: { key: x-hc-test, value: "%UPSTREAM_REMOTE_ADDRESS%" } }]${extra}`;

/** host key → health_flags from /clusters. */
async function flags(proxy: Proxy, clusterName: string): Promise<Map<string, string>> {
  const r = await proxy.admin('/clusters');
  const m = new Map<string, string>();
  for (const line of r.body.split('\n')) {
    const parts = line.split('::');
    if (parts[0] === clusterName && parts[2] === 'health_flags') m.set(parts[1], parts[3]);
  }
  return m;
}

/** Which backends answered `n` requests to `path`. */
async function who(proxy: Proxy, p: string, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await httpRequest(`http://127.0.0.1:${proxy.port('LISTENER_PORT')}${p}`);
    const k = r.status === 200 || r.status >= 500 ? String(r.headers['x-backend'] ?? `local ${r.status}`) : `status ${r.status}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

const key = (port: number) => `127.0.0.1:${port}`;

describe('active health checks and outlier detection (static clusters)', () => {
  let a: Backend, b: Backend, p1: Backend, p2: Backend, p3: Backend, g1: Backend, g2: Backend, bad1: Backend, bad2: Backend;
  let pong: number, nope: number;
  let grpcOk: { port: number; seen: string[] }, grpcDown: { port: number; seen: string[] };
  let proxy: Proxy;

  before(async () => {
    [a, b, p1, p2, p3, g1, g2] = await Promise.all(['a', 'b', 'p1', 'p2', 'p3', 'g1', 'g2'].map((n) => startBackend(n)));
    [bad1, bad2] = await Promise.all([startBackend('bad1', 500), startBackend('bad2', 500)]);
    p2.health = 503;
    p3.health = 503;
    [pong, nope] = await Promise.all([startTcpPong('PONG'), startTcpPong('NOPE')]);
    [grpcOk, grpcDown] = await Promise.all([startGrpcHealth({ svc: 'SERVING' }), startGrpcHealth({ svc: 'NOT_SERVING' })]);
    const yaml = `
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'hc', routeYaml('/hc', 'hc') + routeYaml('/panic0', 'nopanic') + routeYaml('/panic', 'panic') + routeYaml('/od', 'od'))}
${tcpProxyListenerYaml('tcp', 'LISTENER_TCP_PORT', 'tcp', 'tcp_hc')}
  clusters:${cluster('hc', httpHc(), [a.port, b.port])}${cluster('panic', httpHc(), [p1.port, p2.port, p3.port])}${cluster('nopanic', httpHc() + `
    common_lb_config: { healthy_panic_threshold: { value: 0 } }`, [p1.port, p2.port, p3.port])}${cluster('tcp_hc', `    health_checks:
    - timeout: 1s
      interval: 0.2s
      no_traffic_interval: 0.2s
      unhealthy_threshold: 1
      healthy_threshold: 1
      tcp_health_check:
        send: { text: "50494e47" }
        receive: [{ text: "504f" }, { text: "4e47" }]`, [pong, nope])}${cluster('grpc_hc', `    http2_protocol_options: {}
    health_checks:
    - timeout: 1s
      interval: 0.2s
      no_traffic_interval: 0.2s
      unhealthy_threshold: 1
      healthy_threshold: 1
      grpc_health_check: { service_name: svc }`, [grpcOk.port, grpcDown.port])}${cluster('od', `    outlier_detection:
      consecutive_5xx: 3
      interval: 0.1s
      base_ejection_time: 1s
      max_ejection_percent: 25`, [g1.port, g2.port, bad1.port, bad2.port])}
`;
    proxy = await startProxy(yaml, { args: ['--drain-time-s', '1'] });
  });

  test('hosts are checked from startup: /ready waits for the first round, checks carry Envoy/HC, Host and added headers', async () => {
    const f = await flags(proxy, 'hc');
    assert.equal(f.get(key(a.port)), 'healthy');
    assert.equal(f.get(key(b.port)), 'healthy');
    const seen = await who(proxy, '/hc', 10);
    assert.deepEqual([...seen.keys()].sort(), ['a', 'b']);
    const c = a.checks[0];
    assert.equal(c['user-agent'], 'Envoy/HC');
    assert.equal(c.host, 'hc', 'Host defaults to the cluster name');
    assert.equal(c['x-hc-test'], key(a.port));
  });

  test('a backend whose health endpoint fails is taken out, then comes back when it recovers', async () => {
    b.health = 503;
    await waitFor('b marked /failed_active_hc', async () => (await flags(proxy, 'hc')).get(key(b.port)) === '/failed_active_hc', { attempts: 100, intervalMs: 50 });
    const seen = await who(proxy, '/hc', 20);
    assert.deepEqual([...seen.entries()], [['a', 20]], 'no request reaches b');
    const stats = await proxy.stats();
    assert.ok((stats.get('cluster.hc.health_check.failure') ?? 0) >= 1);
    assert.ok((stats.get('cluster.hc.health_check.attempt') ?? 0) > (stats.get('cluster.hc.health_check.failure') ?? 0));
    assert.equal(stats.get('cluster.hc.health_check.healthy'), 1);
    assert.equal(stats.get('cluster.hc.membership_healthy'), 1);
    b.health = 200;
    await waitFor('b healthy again', async () => (await flags(proxy, 'hc')).get(key(b.port)) === 'healthy', { attempts: 100, intervalMs: 50 });
    const back = await who(proxy, '/hc', 20);
    assert.ok((back.get('b') ?? 0) > 0, `b serves again: ${JSON.stringify([...back])}`);
  });

  test('TCP check with send/receive payloads: the host answering PONG passes, the one answering NOPE fails', async () => {
    const f = await flags(proxy, 'tcp_hc');
    assert.equal(f.get(key(pong)), 'healthy');
    assert.equal(f.get(key(nope)), '/failed_active_hc');
    for (let i = 0; i < 6; i++) {
      const got = await new Promise<string>((resolve) => {
        const s = net.connect(proxy.port('LISTENER_TCP_PORT'), '127.0.0.1', () => s.write('hello'));
        let d = '';
        s.on('data', (x) => (d += x));
        s.on('close', () => resolve(d));
        s.on('error', () => resolve('error'));
      });
      assert.equal(got, 'proxied:PONG');
    }
  });

  test('gRPC check against a grpc.health.v1 server: SERVING passes, NOT_SERVING fails', async () => {
    const f = await flags(proxy, 'grpc_hc');
    assert.equal(f.get(key(grpcOk.port)), 'healthy');
    assert.equal(f.get(key(grpcDown.port)), '/failed_active_hc');
    assert.ok(grpcOk.seen.length > 0 && grpcOk.seen.every((s) => s === 'svc'), 'service_name is sent');
  });

  test('panic mode: with 2 of 3 hosts failing checks, traffic spreads over all hosts; with threshold 0 it does not', async () => {
    const f = await flags(proxy, 'panic');
    assert.equal(f.get(key(p2.port)), '/failed_active_hc');
    assert.equal(f.get(key(p3.port)), '/failed_active_hc');
    const seen = await who(proxy, '/panic', 60);
    for (const n of ['p1', 'p2', 'p3']) assert.ok((seen.get(n) ?? 0) > 0, `${n} gets traffic in panic: ${JSON.stringify([...seen])}`);
    const stats = await proxy.stats();
    assert.ok((stats.get('cluster.panic.lb_healthy_panic') ?? 0) > 0);
    const strict = await who(proxy, '/panic0', 20);
    assert.deepEqual([...strict.entries()], [['p1', 20]]);
  });

  test('outlier detection ejects a 5xx backend (max_ejection_percent honoured) and returns it after base_ejection_time', async () => {
    await who(proxy, '/od', 40);
    const f = await flags(proxy, 'od');
    const ejected = [bad1, bad2].filter((x) => f.get(key(x.port)) === '/failed_outlier_check');
    assert.equal(ejected.length, 1, `exactly one of the 5xx backends is ejected (25% of 4 hosts): ${JSON.stringify([...f])}`);
    assert.equal(f.get(key(g1.port)), 'healthy');
    const stats = await proxy.stats();
    assert.equal(stats.get('cluster.od.outlier_detection.ejections_active'), 1);
    assert.equal(stats.get('cluster.od.outlier_detection.ejections_enforced_consecutive_5xx'), 1);
    assert.ok((stats.get('cluster.od.outlier_detection.ejections_overflow') ?? 0) >= 1, 'the second 5xx backend overflowed');
    const after = await who(proxy, '/od', 20);
    assert.equal(after.get(ejected[0].name) ?? 0, 0, 'no request reaches the ejected backend');
    // No more traffic: after base_ejection_time (1 s) a sweep returns it.
    await waitFor('un-ejection', async () => (await flags(proxy, 'od')).get(key(ejected[0].port)) === 'healthy', { attempts: 60, intervalMs: 100 });
    assert.equal((await proxy.stats()).get('cluster.od.outlier_detection.ejections_active'), 0);
  });

  test('with checks running, SIGTERM still ends the proxy cleanly (no timer or check connection holds it)', async () => {
    const exit = await proxy.stop('SIGTERM', 15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});

// Once in one process, and once with --concurrency 2, where the primary runs the checks and the
// workers apply its verdicts (a removed host that fails its check must leave every worker).
for (const concurrency of [1, 2]) describe(`EDS health_status and active checks over xDS (--concurrency ${concurrency})`, () => {
  let a: Backend, b: Backend, c: Backend, d: Backend;
  let cp: ControlPlane;
  let proxy: Proxy;
  let listenerPort: number;
  const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
  const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
  const lbe = (port: number, health?: string) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } }, ...(health ? { health_status: health } : {}) });
  const mesh = (web: object[], checked: object[]) => ({
    groups: [{
      match: { node_id: 'hc-node' },
      listeners: [{
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': HCM, stat_prefix: 'x', http_filters: [ROUTER],
          route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [
            { match: { prefix: '/checked' }, route: { cluster: 'checked' } },
            { match: { prefix: '/' }, route: { cluster: 'web' } },
          ] }] },
        } }] }],
      }],
      clusters: [
        { name: 'web', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } } },
        { name: 'checked', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } },
          health_checks: [{ timeout: '1s', interval: '0.1s', no_traffic_interval: '0.1s', unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: '/healthz' } }] },
      ],
      cluster_load_assignments: [
        { cluster_name: 'web', endpoints: [{ lb_endpoints: web }] },
        { cluster_name: 'checked', endpoints: [{ lb_endpoints: checked }] },
      ],
    }],
  });

  before(async () => {
    [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startBackend(n)));
    listenerPort = await freePort();
    cp = await startControlPlane(mesh([lbe(a.port, 'HEALTHY'), lbe(b.port, 'UNHEALTHY'), lbe(c.port, 'DEGRADED')], [lbe(a.port), lbe(b.port)]));
    proxy = await startProxy(`
node: { id: hc-node, cluster: test }
${ADMIN_YAML}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{ envoy_grpc: { cluster_name: xds } }]
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    http2_protocol_options: {}
    load_assignment:
      cluster_name: xds
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${cp.adsPort} } } } }] }]
`, { vars: { LISTENER_PORT: listenerPort }, concurrency });
  });
  after(async () => undefined);

  test('UNHEALTHY and DRAINING hosts get /failed_eds_health, DEGRADED /degraded_eds_health; traffic follows', async () => {
    await waitFor('web endpoints', async () => (await flags(proxy, 'web')).size === 3, { attempts: 100, intervalMs: 100 });
    const f = await flags(proxy, 'web');
    assert.equal(f.get(key(a.port)), 'healthy');
    assert.equal(f.get(key(b.port)), '/failed_eds_health');
    assert.equal(f.get(key(c.port)), '/degraded_eds_health');
    // With 1 healthy host of 3 (46% available at overprovisioning 1.4), Envoy's priority load
    // sends part of the traffic to the degraded host too; the unhealthy one gets none.
    const seen = await who(proxy, '/x', 20);
    assert.equal(seen.get('b') ?? 0, 0, JSON.stringify([...seen]));
    assert.ok((seen.get('a') ?? 0) > 0, JSON.stringify([...seen]));
    // 2 of 4 healthy: not in panic (50% is not under the 50% threshold), so only they serve.
    cp.writeMesh(mesh([lbe(a.port, 'HEALTHY'), lbe(b.port, 'HEALTHY'), lbe(c.port, 'DRAINING'), lbe(d.port, 'TIMEOUT')], [lbe(a.port), lbe(b.port)]));
    await waitFor('new EDS health', async () => (await flags(proxy, 'web')).get(key(c.port)) === '/failed_eds_health', { attempts: 100, intervalMs: 100 });
    const f2 = await flags(proxy, 'web');
    assert.equal(f2.get(key(b.port)), 'healthy');
    assert.equal(f2.get(key(d.port)), '/failed_eds_health');
    const seen2 = await who(proxy, '/x', 20);
    assert.deepEqual([...seen2.keys()].sort(), ['a', 'b'], JSON.stringify([...seen2]));
  });

  test('a host EDS removes stays while it passes its checks (/pending_dynamic_removal) and goes when it fails one', async () => {
    await waitFor('checked hosts healthy', async () => {
      const f = await flags(proxy, 'checked');
      return f.get(key(a.port)) === 'healthy' && f.get(key(b.port)) === 'healthy';
    }, { attempts: 100, intervalMs: 100 });
    cp.writeMesh(mesh([lbe(a.port), lbe(b.port), lbe(c.port)], [lbe(a.port)]));
    await waitFor('b pending removal', async () => (await flags(proxy, 'checked')).get(key(b.port)) === '/pending_dynamic_removal', { attempts: 100, intervalMs: 100 });
    b.health = 500;
    await waitFor('b removed', async () => !(await flags(proxy, 'checked')).has(key(b.port)), { attempts: 100, intervalMs: 100 });
    assert.equal((await flags(proxy, 'checked')).get(key(a.port)), 'healthy');
    b.health = 200;
  });
});
