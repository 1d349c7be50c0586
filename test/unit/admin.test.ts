// The admin API over real HTTP, against a small AdminHost made of real objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAdmin, type AdminServer } from '../../src/admin/server';
import type { AdminHost, ClusterView, ListenerView, ServerState } from '../../src/admin/host';
import { StatsStore } from '../../src/telemetry/stats';
import { Host, HealthFlag } from '../../src/upstream/host';
import type { BootstrapConfig, ClusterConfig, ListenerConfig } from '../../src/config/types';
import { log, type Level } from '../../src/log';
import { spawnSync } from 'node:child_process';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function cluster(name: string, raw: Record<string, unknown>): ClusterConfig {
  return {
    name,
    type: 'STATIC',
    connectTimeoutMs: 1500,
    lbPolicy: 'ROUND_ROBIN',
    localities: [],
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: 'AUTO',
    upstreamProtocol: 'http1',
    upstreamIdleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    perConnectionBufferLimitBytes: 1 << 20,
    raw: { name, ...raw },
  };
}

function listener(name: string, port: number, raw: Record<string, unknown>): ListenerConfig {
  return {
    name,
    address: { address: '127.0.0.1', port, protocol: 'TCP' },
    filterChains: [],
    listenerFilters: [],
    listenerFiltersTimeoutMs: 15000,
    continueOnListenerFiltersTimeout: false,
    useOriginalDst: false,
    transparent: false,
    perConnectionBufferLimitBytes: 1 << 20,
    raw: { name, address: { socket_address: { address: '127.0.0.1', port_value: port } }, ...raw },
  };
}

const ingress = listener('ingress', 10000, {
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': HCM,
            stat_prefix: 'ingress_http',
            route_config: {
              name: 'local_route',
              virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'cluster_a', timeout: { seconds: 2 } } }] }],
            },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
          },
        },
      ],
    },
  ],
});
const fromLds = listener('from_lds', 10001, {});

const clusterA = cluster('cluster_a', {
  type: 'STATIC',
  connect_timeout: { seconds: 1, nanos: 500_000_000 },
  circuit_breakers: { thresholds: [{ max_connections: 100, max_retries: 5 }, { priority: 'HIGH', max_requests: 7 }] },
});
const dotted = cluster('svc.ns.local', { type: 'EDS', connect_timeout: { seconds: 3 }, eds_cluster_config: { service_name: 'svc-eds' } });
dotted.type = 'EDS';

class TestHost implements AdminHost {
  readonly stats = new StatsStore();
  readonly startTime = new Date(Date.now() - 125_000);
  readonly bootstrap: BootstrapConfig;
  healthCheckFailed = false;
  current: ServerState = 'LIVE';
  drains: Array<{ inboundOnly: boolean; graceful: boolean }> = [];
  levels: Level[] = [];
  quitCalled!: Promise<void>;
  private quitResolve!: () => void;
  readonly hostA1 = new Host('127.0.0.1', 8080, 1, 'UNKNOWN', 0, undefined);
  readonly hostA2 = new Host('10.0.0.2', 8081, 3, 'HEALTHY', 1, { region: 'eu', zone: 'eu-1', sub_zone: 'r7' }, 'backend-2');
  readonly hostD = new Host('10.1.0.1', 9000, 1, 'UNHEALTHY', 0, undefined);

  constructor() {
    this.quitCalled = new Promise((r) => (this.quitResolve = r));
    this.bootstrap = {
      node: { id: 'node-1', cluster: 'mesh' },
      listeners: [ingress],
      clusters: [clusterA],
      raw: { node: { id: 'node-1', cluster: 'mesh' }, static_resources: { clusters: [clusterA.raw] } },
      source: 'test',
    };
    this.hostA1.stats.cx_total = 4;
    this.hostA1.stats.cx_active = 2;
    this.hostA1.stats.rq_total = 9;
    this.hostA1.stats.rq_success = 8;
    this.hostA1.stats.rq_error = 1;
    this.hostA2.healthFlags |= HealthFlag.FAILED_ACTIVE_HC;
    const s = this.stats;
    s.counter('cluster.cluster_a.upstream_cx_total').inc(5);
    s.gauge('cluster.cluster_a.upstream_cx_active').set(2);
    s.counter('cluster.cluster_a.upstream_rq_2xx').inc(7);
    s.counter('cluster.svc.ns.local.upstream_rq_503').inc(1);
    s.counter('http.ingress_http.downstream_rq_total').inc(3);
    s.counter('listener.127.0.0.1_10000.downstream_cx_total').inc(6);
    s.counter('listener.127.0.0.1_10000.http.ingress_http.downstream_rq_2xx').inc(2);
    s.counter('cluster.cluster_a.upstream_cx_connect_fail'); // never used: 0
    s.gauge('server.live').set(1);
  }
  state(): ServerState {
    return this.current;
  }
  listeners(): ListenerView[] {
    return [
      { config: ingress, boundAddress: '127.0.0.1:10000', addedViaApi: false, lastUpdated: new Date('2024-05-01T10:00:00.000Z') },
      { config: fromLds, boundAddress: '[::1]:10001', addedViaApi: true, lastUpdated: new Date('2024-05-01T11:00:00.000Z') },
    ];
  }
  clusters(): ClusterView[] {
    return [
      { config: clusterA, hosts: [this.hostA1, this.hostA2], addedViaApi: false },
      { config: dotted, hosts: [this.hostD], addedViaApi: true },
    ];
  }
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }): void {
    this.drains.push(opts);
  }
  quit(): void {
    this.quitResolve();
  }
  setLogLevel(level: Level): void {
    this.levels.push(level);
    log.setLevel(level);
  }
  commandLineOptions(): Record<string, unknown> {
    return { concurrency: 1, config_path: '/etc/switchyard.yaml', log_level: 'info' };
  }
}

let host: TestHost;
let admin: AdminServer;
let base: string;
const savedLevel = log.level;

before(async () => {
  host = new TestHost();
  admin = await startAdmin(host, { address: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${admin.port}`;
});
after(async () => {
  log.setLevel(savedLevel);
  await admin.close();
});

async function get(path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(base + path, { method });
  return { status: r.status, body: await r.text(), headers: r.headers };
}
const post = (path: string) => get(path, 'POST');
async function getJson(path: string): Promise<any> {
  const r = await get(path);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  return JSON.parse(r.body);
}

test('listens on the asked address with a real port', () => {
  assert.ok(admin.port > 0);
  assert.deepEqual(admin.server.address(), { address: '127.0.0.1', family: 'IPv4', port: admin.port });
});

test('/ready follows the server state and /healthcheck/fail|ok', async () => {
  assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
  for (const s of ['PRE_INITIALIZING', 'INITIALIZING', 'DRAINING'] as const) {
    host.current = s;
    assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [503, `${s}\n`]);
  }
  host.current = 'LIVE';
  assert.deepEqual(await post('/healthcheck/fail').then((r) => [r.status, r.body]), [200, 'OK\n']);
  assert.equal(host.healthCheckFailed, true);
  assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [503, 'DRAINING\n']);
  assert.equal((await getJson('/server_info')).state, 'DRAINING');
  assert.deepEqual(await post('/healthcheck/ok').then((r) => [r.status, r.body]), [200, 'OK\n']);
  assert.equal(host.healthCheckFailed, false);
  assert.deepEqual(await get('/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
});

test('mutating endpoints reject GET with 405 and change nothing', async () => {
  for (const p of ['/healthcheck/fail', '/healthcheck/ok', '/drain_listeners', '/quitquitquit', '/logging?level=debug']) {
    const r = await get(p);
    assert.equal(r.status, 405, p);
    assert.equal(r.headers.get('allow'), 'POST');
    assert.match(r.body, /requires POST/);
  }
  assert.equal(host.healthCheckFailed, false);
  assert.deepEqual(host.drains, []);
  assert.deepEqual(host.levels, []);
  assert.equal((await get('/ready')).status, 200);
});

test('/server_info', async () => {
  const info = await getJson('/server_info');
  assert.deepEqual(Object.keys(info).sort(), ['command_line_options', 'hot_restart_version', 'node', 'state', 'uptime_all_epochs', 'uptime_current_epoch', 'version']);
  assert.equal(info.state, 'LIVE');
  assert.match(info.version, /^[^/]+\/\d+\.\d+\.\d+\/Clean\/RELEASE\/[^/]+$/);
  assert.match(info.uptime_current_epoch, /^\d+s$/);
  assert.ok(parseInt(info.uptime_current_epoch, 10) >= 125, info.uptime_current_epoch);
  assert.equal(info.uptime_all_epochs.endsWith('s'), true);
  assert.deepEqual(info.command_line_options, { concurrency: 1, config_path: '/etc/switchyard.yaml', log_level: 'info' });
  assert.equal(info.node.id, 'node-1');
  assert.equal(info.node.cluster, 'mesh');
});

test('/config_dump lists bootstrap, clusters, listeners, routes in order with @types', async () => {
  const dump = await getJson('/config_dump');
  assert.deepEqual(
    dump.configs.map((c: any) => c['@type']),
    ['Bootstrap', 'Clusters', 'Listeners', 'Routes'].map((t) => `type.googleapis.com/envoy.admin.v3.${t}ConfigDump`),
  );
  const [boot, clusters, listeners, routes] = dump.configs;
  assert.equal(boot.bootstrap.node.id, 'node-1');
  assert.equal(boot.bootstrap.static_resources.clusters[0].connect_timeout, '1.500s');
  assert.equal(boot.last_updated, host.startTime.toISOString());

  assert.equal(clusters.static_clusters.length, 1);
  const a = clusters.static_clusters[0];
  assert.equal(a.cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(a.cluster.name, 'cluster_a');
  assert.equal(a.cluster.connect_timeout, '1.500s', 'Durations print as proto3 JSON strings');
  assert.equal(a.cluster.circuit_breakers.thresholds[1].priority, 'HIGH');
  assert.match(a.last_updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual(clusters.dynamic_active_clusters.map((d: any) => [d.cluster['@type'], d.cluster.name, d.cluster.connect_timeout]), [
    ['type.googleapis.com/envoy.config.cluster.v3.Cluster', 'svc.ns.local', '3s'],
  ]);

  assert.deepEqual(listeners.static_listeners.map((l: any) => [l.listener['@type'], l.listener.name, l.last_updated]), [
    ['type.googleapis.com/envoy.config.listener.v3.Listener', 'ingress', '2024-05-01T10:00:00.000Z'],
  ]);
  const hcm = listeners.static_listeners[0].listener.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm['@type'], HCM);
  assert.equal(hcm.stat_prefix, 'ingress_http');
  assert.deepEqual(listeners.dynamic_listeners.map((l: any) => [l.name, l.active_state.listener.name, l.active_state.last_updated]), [
    ['from_lds', 'from_lds', '2024-05-01T11:00:00.000Z'],
  ]);

  // The HCM's inline route_config is a static route config (RoutesConfigDump doc).
  assert.equal(routes.static_route_configs.length, 1);
  const rc = routes.static_route_configs[0].route_config;
  assert.equal(rc['@type'], 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration');
  assert.equal(rc.name, 'local_route');
  assert.equal(rc.virtual_hosts[0].routes[0].route.timeout, '2s');
});

test('/config_dump?resource= and ?include_eds', async () => {
  const dyn = await getJson('/config_dump?resource=dynamic_active_clusters');
  assert.deepEqual(dyn.configs.map((c: any) => [c['@type'], c.cluster.name]), [
    ['type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster', 'svc.ns.local'],
  ]);
  const stat = await getJson('/config_dump?resource=static_listeners');
  assert.deepEqual(stat.configs.map((c: any) => [c['@type'], c.listener.name]), [
    ['type.googleapis.com/envoy.admin.v3.ListenersConfigDump.StaticListener', 'ingress'],
  ]);
  const bad = await get('/config_dump?resource=no_such_field');
  assert.equal(bad.status, 404);

  const eds = await getJson('/config_dump?include_eds');
  assert.deepEqual(eds.configs.map((c: any) => c['@type'].split('.').pop()), [
    'BootstrapConfigDump', 'ClustersConfigDump', 'EndpointsConfigDump', 'ListenersConfigDump', 'RoutesConfigDump',
  ]);
  const ep = eds.configs[2];
  const cla = ep.static_endpoint_configs[0].endpoint_config;
  assert.equal(cla['@type'], 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment');
  assert.equal(cla.cluster_name, 'cluster_a');
  assert.deepEqual(cla.endpoints.map((e: any) => e.lb_endpoints.map((l: any) => l.endpoint.address.socket_address)), [
    [{ address: '127.0.0.1', port_value: 8080 }],
    [{ address: '10.0.0.2', port_value: 8081 }],
  ]);
  assert.deepEqual(cla.endpoints[1].locality, { region: 'eu', zone: 'eu-1', sub_zone: 'r7' });
  assert.equal(cla.endpoints[1].priority, 1);
  assert.equal(ep.dynamic_endpoint_configs[0].endpoint_config.cluster_name, 'svc.ns.local');
  assert.equal(ep.dynamic_endpoint_configs[0].endpoint_config.endpoints[0].lb_endpoints[0].health_status, 'UNHEALTHY');
});

test('/clusters text', async () => {
  const r = await get('/clusters');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const a = (k: string) => `cluster_a::${k}`;
  const h1 = (k: string) => a(`127.0.0.1:8080::${k}`);
  const h2 = (k: string) => a(`10.0.0.2:8081::${k}`);
  const expectedA = [
    a('observability_name::cluster_a'),
    a('default_priority::max_connections::100'),
    a('default_priority::max_pending_requests::1024'),
    a('default_priority::max_requests::1024'),
    a('default_priority::max_retries::5'),
    a('high_priority::max_connections::1024'),
    a('high_priority::max_pending_requests::1024'),
    a('high_priority::max_requests::7'),
    a('high_priority::max_retries::3'),
    a('added_via_api::false'),
    h1('cx_active::2'), h1('cx_connect_fail::0'), h1('cx_total::4'), h1('rq_active::0'),
    h1('rq_error::1'), h1('rq_success::8'), h1('rq_timeout::0'), h1('rq_total::9'),
    h1('hostname::'), h1('health_flags::healthy'), h1('weight::1'), h1('region::'), h1('zone::'),
    h1('sub_zone::'), h1('canary::false'), h1('priority::0'), h1('success_rate::-1'), h1('local_origin_success_rate::-1'),
    h2('cx_active::0'), h2('cx_connect_fail::0'), h2('cx_total::0'), h2('rq_active::0'),
    h2('rq_error::0'), h2('rq_success::0'), h2('rq_timeout::0'), h2('rq_total::0'),
    h2('hostname::backend-2'), h2('health_flags::/failed_active_hc'), h2('weight::3'), h2('region::eu'), h2('zone::eu-1'),
    h2('sub_zone::r7'), h2('canary::false'), h2('priority::1'), h2('success_rate::-1'), h2('local_origin_success_rate::-1'),
  ];
  const lines = r.body.split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.deepEqual(lines.slice(0, expectedA.length), expectedA);
  const rest = lines.slice(expectedA.length);
  assert.ok(rest.includes('svc.ns.local::added_via_api::true'));
  assert.ok(rest.includes('svc.ns.local::eds_service_name::svc-eds'));
  assert.ok(rest.includes('svc.ns.local::10.1.0.1:9000::health_flags::/failed_eds_health'));
  assert.ok(rest.every((l) => l.startsWith('svc.ns.local::')), rest.join('\n'));
});

test('/clusters?format=json is envoy.admin.v3.Clusters (defaults omitted)', async () => {
  const j = await getJson('/clusters?format=json');
  assert.deepEqual(j.cluster_statuses.map((c: any) => [c.name, c.added_via_api]), [['cluster_a', undefined], ['svc.ns.local', true]]);
  const a = j.cluster_statuses[0];
  assert.equal(a.observability_name, 'cluster_a');
  assert.deepEqual(a.circuit_breakers.thresholds, [
    { max_connections: 100, max_pending_requests: 1024, max_requests: 1024, max_retries: 5 },
    { priority: 'HIGH', max_connections: 1024, max_pending_requests: 1024, max_requests: 7, max_retries: 3 },
  ]);
  const [h1, h2] = a.host_statuses;
  assert.deepEqual(h1.address, { socket_address: { address: '127.0.0.1', port_value: 8080 } });
  assert.deepEqual(h1.stats, [
    { name: 'cx_active', value: '2', type: 'GAUGE' },
    { name: 'cx_connect_fail' },
    { name: 'cx_total', value: '4' },
    { name: 'rq_active', type: 'GAUGE' },
    { name: 'rq_error', value: '1' },
    { name: 'rq_success', value: '8' },
    { name: 'rq_timeout' },
    { name: 'rq_total', value: '9' },
  ]);
  assert.deepEqual(h1.health_status, { eds_health_status: 'HEALTHY' });
  assert.equal(h1.weight, 1);
  assert.equal(h1.locality, undefined);
  assert.deepEqual(h2.health_status, { failed_active_health_check: true, eds_health_status: 'HEALTHY' });
  assert.equal(h2.weight, 3);
  assert.equal(h2.priority, 1);
  assert.equal(h2.hostname, 'backend-2');
  assert.deepEqual(h2.locality, { region: 'eu', zone: 'eu-1', sub_zone: 'r7' });
  const d = j.cluster_statuses[1];
  assert.equal(d.eds_service_name, 'svc-eds');
  assert.deepEqual(d.host_statuses[0].health_status, { eds_health_status: 'UNHEALTHY' });
});

test('/stats: sorted name: value lines, filter, usedonly, json', async () => {
  const all = await get('/stats');
  assert.equal(all.status, 200);
  const lines = all.body.trimEnd().split('\n');
  assert.deepEqual(lines, [
    'cluster.cluster_a.upstream_cx_active: 2',
    'cluster.cluster_a.upstream_cx_connect_fail: 0',
    'cluster.cluster_a.upstream_cx_total: 5',
    'cluster.cluster_a.upstream_rq_2xx: 7',
    'cluster.svc.ns.local.upstream_rq_503: 1',
    'http.ingress_http.downstream_rq_total: 3',
    'listener.127.0.0.1_10000.downstream_cx_total: 6',
    'listener.127.0.0.1_10000.http.ingress_http.downstream_rq_2xx: 2',
    'server.live: 1',
  ]);
  assert.equal((await get('/stats?filter=^cluster\\.cluster_a\\.upstream_cx')).body,
    'cluster.cluster_a.upstream_cx_active: 2\ncluster.cluster_a.upstream_cx_connect_fail: 0\ncluster.cluster_a.upstream_cx_total: 5\n');
  assert.ok(!(await get('/stats?usedonly')).body.includes('upstream_cx_connect_fail'));
  assert.equal((await get('/stats?usedonly')).body.split('\n').length, lines.length); // 8 lines + trailing ''
  assert.equal((await get('/stats?type=Gauges')).body, 'cluster.cluster_a.upstream_cx_active: 2\nserver.live: 1\n');
  assert.equal((await get('/stats?filter=(')).status, 400);
  const j = await getJson('/stats?format=json&filter=server');
  assert.deepEqual(j, { stats: [{ name: 'server.live', value: 1 }] });
});

/** A small exposition-format parser: returns samples; throws on any line that does not fit. */
function parseProm(text: string): Map<string, { type: string; samples: Array<{ labels: Record<string, string>; value: number }> }> {
  const fams = new Map<string, { type: string; samples: Array<{ labels: Record<string, string>; value: number }> }>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
  const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$`);
  const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    let m = TYPE_RE.exec(line);
    if (m) {
      assert.ok(!fams.has(m[1]), `second TYPE line for ${m[1]}`);
      fams.set(m[1], { type: m[2], samples: [] });
      continue;
    }
    m = SAMPLE_RE.exec(line);
    assert.ok(m, `not a valid sample line: ${JSON.stringify(line)}`);
    const fam = fams.get(m[1]);
    assert.ok(fam, `sample ${m[1]} before its TYPE line`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(LABEL_RE)) labels[lm[1]] = lm[2];
    fam.samples.push({ labels, value: Number(m[3]) });
  }
  return fams;
}

test('/stats/prometheus: Envoy names, tags as labels, TYPE before samples', async () => {
  const r = await get('/stats/prometheus');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const fams = parseProm(r.body);
  assert.deepEqual([...fams.keys()], [...fams.keys()].sort());
  const s = (name: string) => fams.get(name);
  assert.deepEqual(s('envoy_cluster_upstream_cx_total'), { type: 'counter', samples: [{ labels: { envoy_cluster_name: 'cluster_a' }, value: 5 }] });
  assert.deepEqual(s('envoy_cluster_upstream_cx_active'), { type: 'gauge', samples: [{ labels: { envoy_cluster_name: 'cluster_a' }, value: 2 }] });
  assert.deepEqual(s('envoy_cluster_upstream_rq_xx'), {
    type: 'counter',
    samples: [{ labels: { envoy_cluster_name: 'cluster_a', envoy_response_code_class: '2' }, value: 7 }],
  });
  // A dotted cluster name is recognised because the admin knows the cluster names.
  assert.deepEqual(s('envoy_cluster_upstream_rq'), {
    type: 'counter',
    samples: [{ labels: { envoy_cluster_name: 'svc.ns.local', envoy_response_code: '503' }, value: 1 }],
  });
  assert.deepEqual(s('envoy_http_downstream_rq_total'), {
    type: 'counter',
    samples: [{ labels: { envoy_http_conn_manager_prefix: 'ingress_http' }, value: 3 }],
  });
  assert.deepEqual(s('envoy_listener_downstream_cx_total'), {
    type: 'counter',
    samples: [{ labels: { envoy_listener_address: '127.0.0.1_10000' }, value: 6 }],
  });
  assert.deepEqual(s('envoy_listener_http_downstream_rq_xx'), {
    type: 'counter',
    samples: [{ labels: { envoy_listener_address: '127.0.0.1_10000', envoy_http_conn_manager_prefix: 'ingress_http', envoy_response_code_class: '2' }, value: 2 }],
  });
  assert.deepEqual(s('envoy_server_live'), { type: 'gauge', samples: [{ labels: {}, value: 1 }] });

  const used = parseProm((await get('/stats/prometheus?usedonly')).body);
  assert.equal(used.has('envoy_cluster_upstream_cx_connect_fail'), false);
  assert.equal(fams.has('envoy_cluster_upstream_cx_connect_fail'), true);
});

// A parser no one here wrote: the Prometheus Python client's (Debian python3-prometheus-client).
const PY_PARSE = `
import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = {"type": fam.type, "samples": [[s.name, s.labels, s.value] for s in fam.samples]}
print(json.dumps(out))
`;
const pyHasClient = spawnSync('/usr/bin/python3', ['-c', 'import prometheus_client'], { stdio: 'ignore' }).status === 0;

test('/stats/prometheus parses with the Prometheus Python client', { skip: !pyHasClient && 'python3-prometheus-client not installed' }, async () => {
  const body = (await get('/stats/prometheus')).body;
  const r = spawnSync('/usr/bin/python3', ['-c', PY_PARSE], { input: body, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fams = JSON.parse(r.stdout);
  // The client strips a counter's _total suffix from the family name, not from the sample.
  assert.deepEqual(fams['envoy_cluster_upstream_cx'], {
    type: 'counter',
    samples: [['envoy_cluster_upstream_cx_total', { envoy_cluster_name: 'cluster_a' }, 5]],
  });
  assert.deepEqual(fams['envoy_listener_http_downstream_rq_xx'].samples, [
    // and gives a counter sample without one the _total suffix.
    ['envoy_listener_http_downstream_rq_xx_total', { envoy_listener_address: '127.0.0.1_10000', envoy_http_conn_manager_prefix: 'ingress_http', envoy_response_code_class: '2' }, 2],
  ]);
  assert.equal(fams['envoy_server_live'].type, 'gauge');
});

test('/listeners text and json', async () => {
  assert.equal((await get('/listeners')).body, 'ingress::127.0.0.1:10000\nfrom_lds::[::1]:10001\n');
  assert.deepEqual(await getJson('/listeners?format=json'), {
    listener_statuses: [
      { name: 'ingress', local_address: { socket_address: { address: '127.0.0.1', port_value: 10000 } } },
      { name: 'from_lds', local_address: { socket_address: { address: '::1', port_value: 10001 } } },
    ],
  });
});

test('POST /drain_listeners passes ?inboundonly and ?graceful', async () => {
  assert.deepEqual(await post('/drain_listeners').then((r) => [r.status, r.body]), [200, 'OK\n']);
  assert.equal((await post('/drain_listeners?inboundonly&graceful')).status, 200);
  assert.deepEqual(host.drains, [
    { inboundOnly: false, graceful: false },
    { inboundOnly: true, graceful: true },
  ]);
  host.drains = [];
});

test('/logging lists and sets the level', async () => {
  log.setLevel('info');
  assert.deepEqual(await get('/logging').then((r) => [r.status, r.body]), [200, 'active loggers:\n  switchyard: info\n']);
  assert.deepEqual(await post('/logging?level=debug').then((r) => [r.status, r.body]), [200, 'active loggers:\n  switchyard: debug\n']);
  assert.deepEqual(host.levels, ['debug']);
  assert.equal(log.level, 'debug');
  assert.equal((await post('/logging?level=loud')).status, 400);
  assert.deepEqual(host.levels, ['debug']);
  log.setLevel(savedLevel);
});

test('/help and / list the endpoints; an unknown path is 404 with the list', async () => {
  const help = await get('/help');
  assert.equal(help.status, 200);
  for (const p of ['/ready', '/server_info', '/config_dump', '/clusters', '/listeners', '/stats', '/stats/prometheus', '/logging', '/healthcheck/fail', '/healthcheck/ok', '/drain_listeners', '/quitquitquit']) {
    assert.ok(help.body.includes(`  ${p}: `), `help lists ${p}`);
  }
  assert.equal((await get('/')).body, help.body);
  const nf = await get('/nope');
  assert.equal(nf.status, 404);
  assert.ok(nf.body.endsWith(help.body));
});

test('POST /quitquitquit answers OK then quits', async () => {
  let quit = false;
  void host.quitCalled.then(() => (quit = true));
  const r = await post('/quitquitquit');
  assert.deepEqual([r.status, r.body], [200, 'OK\n']);
  await host.quitCalled;
  assert.equal(quit, true);
});
