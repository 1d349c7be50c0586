// Bootstrap loading end to end: YAML → proto3 JSON mapping → domain types, with every
// problem reported by path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeBootstrap, loadBootstrapFile } from '../../src/config/bootstrap';
import { ConfigError } from '../../src/config/issues';
import { validateCommand } from '../../src/config/validate';
import type { HcmConfig } from '../../src/filters/network/http_connection_manager/config';
import type { TcpProxyConfig } from '../../src/filters/network/tcp_proxy/config';

const GOOD = path.join(__dirname, '../fixtures/bootstrap-good.yaml');
const BAD = path.join(__dirname, '../fixtures/bootstrap-bad.yaml');
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    throw e;
  }
  assert.fail('expected a ConfigError');
}

const socket = (address: string, port: unknown) => ({ address: { socket_address: { address, port_value: port } } });
const endpoints = (...hosts: [string, unknown][]) => ({
  cluster_name: 'x',
  endpoints: [{ lb_endpoints: hosts.map(([a, p]) => ({ endpoint: socket(a, p) })) }],
});
const cluster = (extra: object) => ({ static_resources: { clusters: [{ name: 'c', ...extra }] } });
const tcpListener = (tcp: object, extra: object = {}) => ({
  static_resources: {
    listeners: [{
      name: 'l', ...socket('0.0.0.0', 1), ...extra,
      filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': TCP_PROXY, stat_prefix: 's', cluster: 'c', ...tcp } }] }],
    }],
  },
});

test('the good fixture decodes to the domain types', () => {
  const b = loadBootstrapFile(GOOD);
  assert.equal(b.source, GOOD);
  assert.equal(b.node.cluster, 'app');
  assert.deepEqual(b.admin, { address: { address: '127.0.0.1', port: 15000, protocol: 'TCP' } });
  assert.deepEqual(b.listeners.map((l) => [l.name, l.address.port]), [['http_in', 8080], ['tcp_in', 9000]]);

  const [http, tcp] = b.listeners;
  assert.equal(http.listenerFiltersTimeoutMs, 2000);
  assert.deepEqual(http.listenerFilters, []);
  assert.equal(http.filterChains[0].filters[0].typeUrl,
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.ok(http.filterChains[0].filters[0].config);

  assert.equal(tcp.listenerFiltersTimeoutMs, 15000); // Envoy's default
  assert.deepEqual(tcp.filterChains[0].match, {
    destinationPort: 9000,
    prefixRanges: [{ address: '10.0.0.0', prefixLen: 8 }],
    sourcePrefixRanges: [],
    sourcePorts: [],
    serverNames: ['db.example.com'],
    transportProtocol: 'tls',
    applicationProtocols: [],
  });
  assert.deepEqual(tcp.filterChains[0].filters[0].config as TcpProxyConfig, {
    statPrefix: 'db_tls', cluster: 'db', idleTimeoutMs: 0, maxConnectAttempts: 3, hashPolicy: [],
  });
  assert.deepEqual(tcp.filterChains[1].filters[0].config as TcpProxyConfig, {
    statPrefix: 'db_weighted', idleTimeoutMs: 3600000, maxConnectAttempts: 1, hashPolicy: [],
    weightedClusters: [{ name: 'db', weight: 90 }, { name: 'web', weight: 10 }],
  });

  const [web, db] = b.clusters;
  assert.equal(web.type, 'STATIC');
  assert.equal(web.connectTimeoutMs, 250);
  assert.equal(web.lbPolicy, 'ROUND_ROBIN');
  assert.equal(web.lbConfig, undefined);
  assert.equal(web.upstreamProtocol, 'http2');
  assert.equal(web.upstreamIdleTimeoutMs, 30000);
  assert.equal(web.maxRequestsPerConnection, 100);
  assert.deepEqual(web.localities[0].locality, { zone: 'us-east-1a' });
  assert.deepEqual(web.localities[0].endpoints.map((e) => [e.address.address, e.address.port, e.weight, e.healthStatus]), [
    ['127.0.0.1', 8081, 3, 'UNKNOWN'],
    ['127.0.0.2', 8082, 1, 'DRAINING'],
  ]);
  assert.equal(db.type, 'STRICT_DNS');
  assert.equal(db.connectTimeoutMs, 5000); // Envoy's default
  assert.equal(db.lbPolicy, 'ROUND_ROBIN');
  assert.equal(db.dnsLookupFamily, 'V4_ONLY');
  assert.equal(db.dnsRefreshRateMs, 1500);
  assert.equal(db.upstreamProtocol, 'http1');
  assert.equal(db.upstreamIdleTimeoutMs, 3600000);
  assert.equal(db.raw.name, 'db');
});

test('the bad fixture reports every error with its path', () => {
  const got = issuesOf(() => loadBootstrapFile(BAD));
  const want = [
    'stats_config: not supported by switchyard',
    'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.weighted_clusters: "weighted_clusters" and "cluster" are both set, but only one field of oneof "cluster_specifier" may be set',
    'static_resources.listeners[0].filter_chains[0].filters[1].typed_config: unsupported typed_config @type "type.googleapis.com/acme.filters.Nope"',
    'static_resources.clusters[0]: unknown field "conect_timeout"',
    'static_resources.clusters[0].preconnect_policy: not supported by switchyard',
    'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: value must be <= 65535',
    'static_resources.clusters[1].connect_timeout: invalid duration "5 seconds": expected e.g. "1s", "0.25s"',
    'static_resources.clusters[2].load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: expected integer, got "http"',
  ];
  assert.deepEqual([...got].sort(), [...want].sort());
});

test('validate prints OK or one FILE: path: message line per error, and returns the exit code', () => {
  const lines: string[] = [];
  assert.equal(validateCommand(GOOD, (l) => lines.push(l)), 0);
  assert.deepEqual(lines, [`OK: ${GOOD}`]);
  lines.length = 0;
  assert.equal(validateCommand(BAD, (l) => lines.push(l)), 1);
  assert.equal(lines.length, 8);
  assert.ok(lines.every((l) => l.startsWith(`${BAD}: `)), lines.join('\n'));
  assert.ok(lines.includes(`${BAD}: static_resources.clusters[0]: unknown field "conect_timeout"`));
});

test('a YAML syntax error names the file, line and column; a missing file is a ConfigError', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-boot-'));
  const f = path.join(dir, 'broken.yaml');
  fs.writeFileSync(f, 'node:\n  id: a\n   cluster: b\n');
  try {
    loadBootstrapFile(f);
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.source, f);
    assert.match(e.issues[0].path, /^line 3, column \d+$/);
    assert.match(e.issues[0].message, /^YAML syntax error: /);
  }
  const json = path.join(dir, 'b.json');
  fs.writeFileSync(json, JSON.stringify({ node: { id: 'j' } }));
  assert.equal(loadBootstrapFile(json).node.id, 'j');
  assert.match(issuesOf(() => loadBootstrapFile(path.join(dir, 'nope.yaml')))[0], /^cannot read file: ENOENT/);
  fs.rmSync(dir, { recursive: true });
});

test('top-level fields: layered_runtime and dynamic_resources accepted, others not supported', () => {
  const ads = { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ google_grpc: { target_uri: 'xds:1', stat_prefix: 'x' } }] };
  const b = decodeBootstrap({ node: { id: 'n' }, layered_runtime: {}, dynamic_resources: { ads_config: ads } }, 't');
  assert.equal(b.raw.dynamic_resources.ads_config.api_type, 'GRPC');
  assert.equal(b.dynamic?.ads.target, 'xds:1');
  assert.deepEqual(issuesOf(() => decodeBootstrap({ stats_flush_interval: '5s', watchdogs: {} }, 't')), [
    'stats_flush_interval: not supported by switchyard',
    'watchdogs: not supported by switchyard',
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap(null, 't')), ['bootstrap is empty']);
  assert.deepEqual(issuesOf(() => decodeBootstrap({ admin: { address: socket('localhost', 1).address } }, 't')), [
    'admin.address.socket_address.address: malformed IP address: "localhost"',
  ]);
});

test('cluster rules: types, lb policy, load assignment, protocol options', () => {
  const one = (extra: object) => decodeBootstrap(cluster(extra), 't').clusters[0];
  const errs = (extra: object) => issuesOf(() => decodeBootstrap(cluster(extra), 't'));
  const p = 'static_resources.clusters[0]';

  // ORIGINAL_DST: hosts from the connection; original_dst_lb_config and cleanup_interval only there.
  const od = one({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', cleanup_interval: '2s', original_dst_lb_config: { use_http_header: true, http_header_name: 'X-Dst' } });
  assert.deepEqual(od.originalDst, { cleanupIntervalMs: 2000, useHttpHeader: true, httpHeaderName: 'x-dst' });
  assert.deepEqual(one({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' }).originalDst, {
    cleanupIntervalMs: 5000, useHttpHeader: false, httpHeaderName: 'x-envoy-original-dst-host',
  });
  assert.deepEqual(errs({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', original_dst_lb_config: { metadata_key: { key: 'k', path: [{ key: 'x' }] } } }), [
    `${p}.original_dst_lb_config.metadata_key: not supported by switchyard`,
  ]);
  assert.deepEqual(errs({ original_dst_lb_config: {}, cleanup_interval: '1s' }), [
    `${p}.original_dst_lb_config: not supported by switchyard: only valid for type ORIGINAL_DST`,
    `${p}.cleanup_interval: not supported by switchyard: only valid for type ORIGINAL_DST`,
  ]);
  // Load-balancing policies and their options (the rest is in test/unit/lb_config.test.ts).
  assert.equal(one({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 64 } }).lb.minRingSize, 64);
  assert.deepEqual(errs({ lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } }), [
    `${p}.ring_hash_lb_config.hash_function: MURMUR_HASH_2 is not supported by switchyard (implemented: XX_HASH)`,
  ]);
  assert.deepEqual(errs({ type: 'ORIGINAL_DST' }), [
    `${p}.lb_policy: ROUND_ROBIN is not valid for cluster type ORIGINAL_DST; only CLUSTER_PROVIDED is allowed`,
  ]);
  // upstream_bind_config: a source IP (Istio's 127.0.0.6); the rest is named.
  assert.deepEqual(one({ upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } }).upstreamBind, { address: '127.0.0.6', port: 0 });
  assert.deepEqual(errs({ upstream_bind_config: { source_address: { address: 'localhost', port_value: 0 }, freebind: true, socket_options: [{ level: 1, name: 2, int_value: 1 }] } }), [
    `${p}.upstream_bind_config.socket_options: not supported by switchyard`,
    `${p}.upstream_bind_config.freebind: true is not supported by switchyard yet`,
    `${p}.upstream_bind_config.source_address.address: must be an IP address, got "localhost"`,
  ]);
  assert.deepEqual(errs({ type: 'LOGICAL_DNS', load_assignment: endpoints(['a.test', 1], ['b.test', 2]) }), [
    `${p}.load_assignment: LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint`,
  ]);
  assert.deepEqual(errs({ load_assignment: endpoints(['web.internal', 80]) }), [
    `${p}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: malformed IP address: "web.internal"`,
  ]);
  assert.deepEqual(errs({ lb_policy: 'LOAD_BALANCING_POLICY_CONFIG' }), [
    `${p}.load_balancing_policy: is required when lb_policy is LOAD_BALANCING_POLICY_CONFIG`,
  ]);

  // Deprecated cluster-level options still select the protocol, like Envoy.
  const legacy = one({ http2_protocol_options: {}, common_http_protocol_options: { idle_timeout: '10s' } });
  assert.deepEqual([legacy.upstreamProtocol, legacy.upstreamIdleTimeoutMs], ['http2', 10000]);
  const typed = (o: object) => ({
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...o,
      },
    },
  });
  assert.equal(one(typed({ use_downstream_protocol_config: {} })).upstreamProtocol, 'downstream');
  assert.equal(one(typed({ explicit_http_config: { http_protocol_options: {} } })).upstreamProtocol, 'http1');
  assert.deepEqual(errs({ ...typed({ explicit_http_config: { http2_protocol_options: {} } }), http2_protocol_options: {} }), [
    `${p}.http2_protocol_options: cannot be set together with typed_extension_protocol_options`,
  ]);
  assert.deepEqual(errs(typed({ explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 10 } } })), [
    `${p}.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.max_concurrent_streams: not supported by switchyard`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap({ static_resources: { clusters: [{ name: 'a' }, { name: 'a' }] } }, 't')), [
    'static_resources.clusters[1].name: duplicate cluster name "a" (also static_resources.clusters[0])',
  ]);
});

test('listener rules: filters by registry, listener filters, transport socket, tcp_proxy fields', () => {
  const p = 'static_resources.listeners[0]';
  // The virtual outbound listener's shape (Istio's 15001).
  const virt = decodeBootstrap(tcpListener({}, {
    listener_filters: [{ name: 'od', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
    use_original_dst: true,
    listener_filters_timeout: '1s',
    continue_on_listener_filters_timeout: true,
  }), 't').listeners[0];
  assert.deepEqual([virt.useOriginalDst, virt.listenerFilters.length, virt.listenerFiltersTimeoutMs, virt.continueOnListenerFiltersTimeout, virt.bindToPort], [true, 1, 1000, true, true]);
  assert.equal(decodeBootstrap(tcpListener({}, { bind_to_port: false }), 't').listeners[0].bindToPort, false);
  assert.deepEqual(issuesOf(() => decodeBootstrap(tcpListener({}, {
    listener_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol' } }],
  }), 't')), [
    `${p}.listener_filters[0].typed_config: unsupported typed_config @type "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"`,
  ]);
  assert.equal(decodeBootstrap(tcpListener({}), 't').listeners[0].filterChains[0].transportSocket, undefined);

  assert.deepEqual(issuesOf(() => decodeBootstrap(tcpListener({ access_log: [], downstream_idle_timeout: '1s' }), 't')), [
    `${p}.filter_chains[0].filters[0].typed_config.downstream_idle_timeout: not supported by switchyard`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap(tcpListener({ stat_prefix: '' }), 't')), [
    `${p}.filter_chains[0].filters[0].typed_config.stat_prefix: must not be empty`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap(tcpListener({}, {
    listener_filters: [{ name: 'tls', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', enable_ja3_fingerprinting: true,
    } }],
  }), 't')), [
    `${p}.listener_filters[0].typed_config.enable_ja3_fingerprinting: true is not supported by switchyard`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap({ static_resources: { listeners: [{ name: 'l', ...socket('0.0.0.0', 1) }] } }, 't')), [
    `${p}.filter_chains: no filter chains specified`,
  ]);
});

// dynamic_resources: one ADS stream (envoy_grpc to a static HTTP/2 cluster, or google_grpc),
// lds_config / cds_config only as `ads: {}`.
const H2_OPTIONS = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};
const xdsCluster = (extra: object, ...hosts: [string, unknown][]) => ({
  name: 'xds', ...extra, load_assignment: endpoints(...(hosts.length ? hosts : [['127.0.0.1', 18000]] as [string, unknown][])),
});
const adsConfig = (service: object, extra: object = {}) => ({
  api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [service], ...extra,
});
const D = 'dynamic_resources';

test('dynamic_resources: ADS over envoy_grpc or google_grpc, LDS/CDS over ADS, initial fetch timeout', () => {
  const b = decodeBootstrap({
    static_resources: { clusters: [xdsCluster(H2_OPTIONS, ['::1', 18000])] },
    dynamic_resources: {
      ads_config: adsConfig({ envoy_grpc: { cluster_name: 'xds' } }, { api_type: 'DELTA_GRPC', set_node_on_first_message_only: true }),
      lds_config: { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '20s' },
      cds_config: { ads: {}, initial_fetch_timeout: '30s' },
    },
  }, 't');
  assert.deepEqual(b.dynamic, {
    ads: { api: 'delta', target: '[::1]:18000', clusterName: 'xds' }, lds: true, cds: true, initialFetchTimeoutMs: 30000,
  });

  // The deprecated cluster-level http2_protocol_options makes the cluster HTTP/2 too.
  const legacy = decodeBootstrap({
    static_resources: { clusters: [xdsCluster({ http2_protocol_options: {} })] },
    dynamic_resources: { ads_config: adsConfig({ envoy_grpc: { cluster_name: 'xds' } }), lds_config: { ads: {} } },
  }, 't');
  // Envoy's 15 s default applies to each subscription without its own timeout.
  assert.deepEqual(legacy.dynamic, {
    ads: { api: 'sotw', target: '127.0.0.1:18000', clusterName: 'xds' }, lds: true, cds: false, initialFetchTimeoutMs: 15000,
  });

  const google = (lds: object, cds?: object) => decodeBootstrap({
    dynamic_resources: {
      ads_config: adsConfig({ google_grpc: { target_uri: 'dns:///xds.mesh:18000', stat_prefix: 'ads' } }),
      lds_config: lds, ...(cds ? { cds_config: cds } : {}),
    },
  }, 't').dynamic;
  assert.deepEqual(google({ ads: {}, initial_fetch_timeout: '5s' }), {
    ads: { api: 'sotw', target: 'dns:///xds.mesh:18000' }, lds: true, cds: false, initialFetchTimeoutMs: 5000,
  });
  // 0 = wait forever, which outlasts any other timeout; an unset one counts as 15 s.
  assert.equal(google({ ads: {}, initial_fetch_timeout: '0s' }, { ads: {}, initial_fetch_timeout: '60s' })?.initialFetchTimeoutMs, 0);
  assert.equal(google({ ads: {}, initial_fetch_timeout: '5s' }, { ads: {} })?.initialFetchTimeoutMs, 15000);

  // No dynamic_resources: no ADS stream.
  assert.equal(decodeBootstrap({ node: { id: 'n' } }, 't').dynamic, undefined);
});

test('dynamic_resources: every unsupported field and config source is reported with its path', () => {
  assert.deepEqual(issuesOf(() => decodeBootstrap({
    dynamic_resources: {
      ads_config: {
        api_type: 'REST', transport_api_version: 'V2', cluster_names: ['a'], refresh_delay: '1s',
        grpc_services: [{ envoy_grpc: { cluster_name: 'nope' }, timeout: '1s' }],
      },
      lds_config: { path_config_source: { path: '/etc/lds.yaml' } },
      cds_config: { api_config_source: { api_type: 'GRPC', transport_api_version: 'V3' }, initial_fetch_timeout: '1s' },
      lds_resources_locator: 'xdstp://mesh/envoy.config.listener.v3.Listener/*',
    },
  }, 't')).sort(), [
    `${D}.lds_resources_locator: not supported by switchyard`,
    `${D}.lds_config.path_config_source.path: "/etc/lds.yaml" does not exist (the path must exist at config load time)`,
    `${D}.cds_config.api_config_source: not supported by switchyard yet (use "ads: {}" or "path_config_source")`,
    `${D}.ads_config.cluster_names: not supported by switchyard`,
    `${D}.ads_config.refresh_delay: not supported by switchyard`,
    `${D}.ads_config.api_type: "REST" not supported by switchyard (supported: GRPC, DELTA_GRPC)`,
    `${D}.ads_config.transport_api_version: "V2" not supported by switchyard (only V3)`,
    `${D}.ads_config.grpc_services[0].timeout: not supported by switchyard`,
    `${D}.ads_config.grpc_services[0].envoy_grpc.cluster_name: unknown cluster "nope": must name a cluster in static_resources.clusters`,
  ].sort());

  // lds_config: { ads: {} } needs the ADS stream; api_type and transport_api_version must be set.
  assert.deepEqual(issuesOf(() => decodeBootstrap({ dynamic_resources: { lds_config: { ads: {}, resource_api_version: 'V2' } } }, 't')), [
    `${D}.lds_config.resource_api_version: "V2" not supported by switchyard`,
    `${D}.ads_config: is required (lds_config / cds_config say \`ads: {}\`: ADS must be configured to support an ADS config source)`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap({ dynamic_resources: { ads_config: { grpc_services: [] } } }, 't')), [
    `${D}.ads_config.api_type: is required: set GRPC or DELTA_GRPC`,
    `${D}.ads_config.transport_api_version: is required: set V3`,
    `${D}.ads_config.grpc_services: must have exactly one entry (got 0)`,
  ]);

  // envoy_grpc must name a STATIC cluster with one endpoint that speaks HTTP/2.
  const g = `${D}.ads_config.grpc_services[0]`;
  assert.deepEqual(issuesOf(() => decodeBootstrap({
    static_resources: { clusters: [xdsCluster({ type: 'STRICT_DNS' }, ['xds-a.mesh', 1], ['xds-b.mesh', 1])] },
    dynamic_resources: { ads_config: adsConfig({ envoy_grpc: { cluster_name: 'xds', authority: 'xds.mesh' } }) },
  }, 't')), [
    `${g}.envoy_grpc.authority: not supported by switchyard`,
    `${g}.envoy_grpc.cluster_name: cluster "xds" has type STRICT_DNS; switchyard needs a STATIC cluster for the ADS server`,
    `${g}.envoy_grpc.cluster_name: cluster "xds" has 2 endpoints; switchyard needs exactly one for the ADS server`,
    `${g}.envoy_grpc.cluster_name: cluster "xds" must use HTTP/2 for gRPC: set typed_extension_protocol_options with explicit_http_config.http2_protocol_options (or http2_protocol_options)`,
  ]);

  // google_grpc: only an insecure channel; several services are one too many.
  assert.deepEqual(issuesOf(() => decodeBootstrap({
    dynamic_resources: {
      ads_config: adsConfig({ google_grpc: { target_uri: 'xds:1', stat_prefix: 's', channel_credentials: { ssl_credentials: {} }, call_credentials: [{ access_token: 't' }] } }),
    },
  }, 't')), [
    `${g}.google_grpc.call_credentials: not supported by switchyard`,
    `${g}.google_grpc.channel_credentials.ssl_credentials: not supported by switchyard yet (only an insecure channel: leave channel_credentials unset)`,
  ]);
  const two = adsConfig({ google_grpc: { target_uri: 'a:1', stat_prefix: 's' } });
  two.grpc_services.push({ google_grpc: { target_uri: 'b:1', stat_prefix: 's', channel_args: { args: {} } } });
  assert.deepEqual(issuesOf(() => decodeBootstrap({ dynamic_resources: { ads_config: two } }, 't')), [
    `${D}.ads_config.grpc_services: must have exactly one entry (got 2)`,
    `${D}.ads_config.grpc_services[1].google_grpc.channel_args: not supported by switchyard`,
  ]);
});

const ADS_STREAM = { ads_config: adsConfig({ google_grpc: { target_uri: 'xds:18000', stat_prefix: 'ads' } }) };

test('EDS clusters: eds_config over ADS, service_name defaults to the cluster name', () => {
  const b = decodeBootstrap({
    dynamic_resources: ADS_STREAM,
    static_resources: {
      clusters: [
        { name: 'a', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } },
        { name: 'b', type: 'EDS', eds_cluster_config: { service_name: 'svc-b', eds_config: { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '1s' } } },
      ],
    },
  }, 't');
  assert.deepEqual(b.clusters.map((c) => [c.name, c.type, c.edsServiceName, c.localities]), [
    ['a', 'EDS', 'a', []],
    ['b', 'EDS', 'svc-b', []],
  ]);
  assert.equal(decodeBootstrap(cluster({ load_assignment: endpoints(['127.0.0.1', 1]) }), 't').clusters[0].edsServiceName, undefined);

  const c = (i: number) => `static_resources.clusters[${i}]`;
  // `ads: {}` means the bootstrap's ADS stream, which must then exist.
  assert.deepEqual(issuesOf(() => decodeBootstrap({ static_resources: { clusters: [{ name: 'a', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }] } }, 't')), [
    `${c(0)}.eds_cluster_config.eds_config.ads: needs dynamic_resources.ads_config (ADS must be configured to support an ADS config source)`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap({
    dynamic_resources: ADS_STREAM,
    static_resources: {
      clusters: [
        { name: 'a', type: 'EDS' },
        { name: 'b', type: 'EDS', eds_cluster_config: { service_name: 's' } },
        { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { path_config_source: { path: '/eds.yaml' } } }, load_assignment: endpoints(['127.0.0.1', 1]) },
        { name: 'd', type: 'EDS', eds_cluster_config: { eds_config: { api_config_source: { api_type: 'GRPC' } } } },
        { name: 'e', eds_cluster_config: { eds_config: { ads: {} } } },
      ],
    },
  }, 't')), [
    `${c(0)}.eds_cluster_config: is required for cluster type EDS`,
    `${c(1)}.eds_cluster_config.eds_config: is required`,
    `${c(2)}.load_assignment: not allowed for cluster type EDS (endpoints come from eds_cluster_config)`,
    `${c(2)}.eds_cluster_config.eds_config.path_config_source.path: "/eds.yaml" does not exist (the path must exist at config load time)`,
    `${c(3)}.eds_cluster_config.eds_config.api_config_source: not supported by switchyard yet (use "ads: {}" or "path_config_source")`,
    `${c(4)}.eds_cluster_config: not supported by switchyard: only valid for type EDS`,
  ]);
});

test('http_connection_manager rds over ADS is accepted from a bootstrap; other config sources are not', () => {
  const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
  const hcm = (rds: object, extra: object = {}, dynamic: object | null = ADS_STREAM) => ({
    ...(dynamic ? { dynamic_resources: dynamic } : {}),
    static_resources: {
      listeners: [{
        name: 'l', ...socket('0.0.0.0', 1),
        filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
          '@type': HCM, stat_prefix: 'in', rds, ...extra,
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      }],
    },
  });
  const cfg = decodeBootstrap(hcm({ route_config_name: 'routes', config_source: { ads: {}, resource_api_version: 'V3' } }), 't')
    .listeners[0].filterChains[0].filters[0].config as HcmConfig;
  assert.deepEqual(cfg.rds, { routeConfigName: 'routes' });
  assert.equal(cfg.routeTable, undefined);

  const p = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
  assert.deepEqual(issuesOf(() => decodeBootstrap(hcm({ route_config_name: 'r', config_source: { path_config_source: { path: '/rds.yaml' } } }), 't')), [
    `${p}.rds.config_source.path_config_source.path: "/rds.yaml" does not exist (the path must exist at config load time)`,
  ]);
  assert.deepEqual(issuesOf(() => decodeBootstrap(hcm({ config_source: { ads: {} } }), 't')), [`${p}.rds.route_config_name: is required`]);
  assert.deepEqual(issuesOf(() => decodeBootstrap(hcm({ route_config_name: 'r', config_source: { ads: {} } }, {}, null), 't')), [
    `${p}.rds.config_source.ads: needs dynamic_resources.ads_config (ADS must be configured to support an ADS config source)`,
  ]);
  // route_config and rds are a oneof: one, not both.
  const both = issuesOf(() => decodeBootstrap(hcm({ route_config_name: 'r', config_source: { ads: {} } }, { route_config: { virtual_hosts: [] } }), 't'));
  assert.equal(both.length, 1);
  assert.match(both[0], /^static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.(rds|route_config): .*only one field of oneof "route_specifier" may be set/);
});
