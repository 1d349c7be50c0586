// The domain decoders for resources that arrive over ADS, fed the way the ADS client feeds
// them: a resource encoded to protobuf bytes, decoded by the client (src/xds/client/decode.ts)
// into canonical form, then decode_resource.ts. A bad resource is one `{ error }` whose lines
// (`path: reason`, paths relative to the resource) are the NACK's error_detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigIssues } from '../../src/config/issues';
import type { HcmConfig } from '../../src/filters/network/http_connection_manager/config';
import { decodeSotw } from '../../src/xds/client/decode';
import { TYPE_URLS } from '../../src/xds/client/types';
import { toAny } from '../../src/xds/proto/binary';
import { canonKey, type Canon } from '../../src/xds/proto/canonical';
import {
  type DecodeResult,
  decodeClusterLoadAssignmentResource,
  decodeClusterResource,
  decodeListenerResource,
  decodeRouteConfigurationResource,
} from '../../src/xds/resources/decode_resource';
import { decodeClusterLoadAssignment } from '../../src/xds/resources/endpoint';

const { LDS, RDS, CDS, EDS } = TYPE_URLS;
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const NAME_FIELD: Record<string, string> = { [EDS]: 'cluster_name' };

/** `canon` as the ADS client hands it over: through protobuf bytes and the client's decoder. */
function overWire(typeUrl: string, canon: Canon): Canon {
  const batch = decodeSotw(typeUrl, [toAny(typeUrl.slice(typeUrl.lastIndexOf('/') + 1), canon)], 'v1');
  assert.deepEqual(batch.errors, [], 'the client accepts the resource');
  const r = batch.good.get(canon[NAME_FIELD[typeUrl] ?? 'name']);
  assert.ok(r);
  return r.resource;
}

function value<T>(d: DecodeResult<T>): T {
  if ('error' in d) assert.fail(`unexpected error:\n${d.error}`);
  return d.value;
}

function errorLines<T>(d: DecodeResult<T>): string[] {
  assert.ok('error' in d, 'expected an error');
  return d.error.split('\n');
}

const sock = (address: string, port: number) => ({ socket_address: { address, port_value: port } });
const lbEndpoint = (address: string, port: number, extra: object = {}) => ({ endpoint: { address: sock(address, port) }, ...extra });

test('Listener: an HCM with rds over ADS decodes; problems come back as path: reason lines', () => {
  const listener = (rds: object, address = '10.0.0.1') => overWire(LDS, {
    name: 'in',
    address: sock(address, 8080),
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: { '@type': HCM, stat_prefix: 'in', rds, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] },
      }],
    }],
  });
  const l = value(decodeListenerResource(listener({ route_config_name: 'routes', config_source: { ads: {} } }), 'in'));
  assert.equal(l.name, 'in');
  assert.equal(l.address.port, 8080);
  const hcm = l.filterChains[0].filters[0].config as HcmConfig;
  assert.deepEqual(hcm.rds, { routeConfigName: 'routes' });
  assert.equal(hcm.routeTable, undefined);

  const bad = listener({ route_config_name: 'routes', config_source: { self: {} } }, 'ingress.local');
  assert.deepEqual(errorLines(decodeListenerResource(bad, 'in')), [
    'address.socket_address.address: malformed IP address: "ingress.local"',
    'filter_chains[0].filters[0].typed_config.rds.config_source.self: not supported by switchyard yet (use "ads: {}" or "path_config_source")',
  ]);
  // A resource whose own name is not the one it was delivered under.
  assert.deepEqual(errorLines(decodeListenerResource(listener({ route_config_name: 'r', config_source: { ads: {} } }), 'out')), [
    'name: "in" differs from the resource name "out"',
  ]);
});

test('Cluster: EDS over ADS with service_name; other sources and unimplemented fields are errors', () => {
  const c = value(decodeClusterResource(overWire(CDS, {
    name: 'backend', type: 'EDS', connect_timeout: { seconds: 2 },
    eds_cluster_config: { service_name: 'backend-eds', eds_config: { ads: {}, initial_fetch_timeout: { seconds: 5 } } },
  }), 'backend'));
  assert.deepEqual([c.name, c.type, c.edsServiceName, c.connectTimeoutMs, c.localities], ['backend', 'EDS', 'backend-eds', 2000, []]);
  const d = value(decodeClusterResource(overWire(CDS, { name: 'd', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }), 'd'));
  assert.equal(d.edsServiceName, 'd');

  assert.deepEqual(errorLines(decodeClusterResource(overWire(CDS, {
    name: 'backend', type: 'EDS', lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 65536 },
    eds_cluster_config: { eds_config: { api_config_source: { api_type: 'GRPC' } } },
    load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [lbEndpoint('10.0.0.1', 80)] }] },
  }), 'backend')), [
    'maglev_lb_config.table_size: The table size of maglev must be prime number',
    'load_assignment: not allowed for cluster type EDS (endpoints come from eds_cluster_config)',
    'eds_cluster_config.eds_config.api_config_source: not supported by switchyard yet (use "ads: {}" or "path_config_source")',
  ]);
  // Istio's PassthroughCluster, as its control plane sends it.
  const pass = value(decodeClusterResource(overWire(CDS, { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 10 } }), 'PassthroughCluster'));
  assert.deepEqual([pass.type, pass.lbPolicy, pass.originalDst?.cleanupIntervalMs], ['ORIGINAL_DST', 'CLUSTER_PROVIDED', 5000]);
});

test('RouteConfiguration: decodes to a route table; problems are relative to the resource', () => {
  const vh = (name: string, domains: string[]) => ({ name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] });
  const t = value(decodeRouteConfigurationResource(overWire(RDS, { name: 'routes', virtual_hosts: [vh('web', ['*'])] }), 'routes'));
  assert.equal(t.name, 'routes');
  assert.deepEqual(t.virtualHosts.map((v) => [v.name, v.routes.length]), [['web', 1]]);
  const bad = overWire(RDS, { name: 'routes', virtual_hosts: [vh('web', ['*']), { ...vh('api', ['*']), retry_policy: { retry_on: '5xx,envoy-ratelimited,bogus' } }] });
  assert.deepEqual(errorLines(decodeRouteConfigurationResource(bad, 'routes')), [
    'virtual_hosts[1].retry_policy.retry_on: "envoy-ratelimited" not supported by switchyard',
    'virtual_hosts[1].retry_policy.retry_on: unknown retry_on value "bogus"',
    'virtual_hosts[1].domains[0]: duplicate domain "*" (also in virtual host "web")',
  ]);
});

test('ClusterLoadAssignment: localities, priorities, weights and health; IP endpoints only; policy not yet', () => {
  const cla = value(decodeClusterLoadAssignmentResource(overWire(EDS, {
    cluster_name: 'backend-eds',
    endpoints: [
      {
        locality: { region: 'eu', zone: 'eu-1a' },
        load_balancing_weight: 3,
        lb_endpoints: [
          lbEndpoint('10.0.0.1', 8080, { load_balancing_weight: 5, health_status: 'HEALTHY' }),
          { endpoint: { address: sock('fd00::2', 8080), hostname: 'pod-2' }, health_status: 'DRAINING' },
        ],
      },
      { priority: 1, lb_endpoints: [lbEndpoint('10.0.1.1', 8080)] },
    ],
  }), 'backend-eds'));
  assert.equal(cla.clusterName, 'backend-eds');
  assert.deepEqual(cla.localities.map((l) => [l.locality, l.weight, l.priority]), [
    [{ region: 'eu', zone: 'eu-1a' }, 3, 0],
    [undefined, undefined, 1],
  ]);
  assert.deepEqual(cla.localities.flatMap((l) => l.endpoints).map((e) => [e.address.address, e.address.port, e.weight, e.healthStatus, e.hostname]), [
    ['10.0.0.1', 8080, 5, 'HEALTHY', undefined],
    ['fd00::2', 8080, 1, 'DRAINING', 'pod-2'],
    ['10.0.1.1', 8080, 1, 'UNKNOWN', undefined],
  ]);
  // An assignment with no endpoints is valid: the cluster has no hosts.
  assert.deepEqual(value(decodeClusterLoadAssignmentResource(overWire(EDS, { cluster_name: 'empty' }), 'empty')), { clusterName: 'empty', localities: [], overprovisioningFactor: 140 });

  assert.deepEqual(errorLines(decodeClusterLoadAssignmentResource(overWire(EDS, {
    cluster_name: 'backend-eds',
    policy: { overprovisioning_factor: 200, drop_overloads: [{ category: 'lb', drop_percentage: { numerator: 1 } }] },
    endpoints: [{
      proximity: 1,
      lb_endpoints: [
        lbEndpoint('backend.svc', 8080),
        { endpoint: { address: sock('10.0.0.2', 8080), health_check_config: { port_value: 9000, address: sock('10.0.0.3', 1) } } },
        { health_status: 'HEALTHY' },
      ],
    }],
  }), 'backend-eds')), [
    'policy.drop_overloads: not supported by switchyard yet',
    'endpoints[0].proximity: not supported by switchyard',
    'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: malformed IP address: "backend.svc"',
    'endpoints[0].lb_endpoints[1].endpoint.health_check_config.address: not supported by switchyard',
    'endpoints[0].lb_endpoints[2].endpoint: is required',
  ]);
  assert.deepEqual(errorLines(decodeClusterLoadAssignmentResource(overWire(EDS, { cluster_name: 'a' }), 'b')), [
    'cluster_name: "a" differs from the resource name "b"',
  ]);
});

test('decodeClusterLoadAssignment: the one decoder for inline and EDS assignments; names allowed for DNS clusters', () => {
  const la = { cluster_name: 'web', endpoints: [{ lb_endpoints: [lbEndpoint('web.internal', 80)] }] };
  const dns = new ConfigIssues();
  const out = decodeClusterLoadAssignment(la, 'load_assignment', dns, { requireIp: false });
  assert.deepEqual(dns.list, []);
  assert.equal(out.localities[0].endpoints[0].address.address, 'web.internal');
  const ip = new ConfigIssues();
  decodeClusterLoadAssignment(la, 'load_assignment', ip);
  assert.deepEqual(ip.list, [{
    path: 'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address',
    message: 'malformed IP address: "web.internal"',
  }]);
});

test('canonKey: equal for the same resource resent (proto map keys in any order), different for any change', () => {
  const a = { name: 'c', connect_timeout: { seconds: 1 }, typed_extension_protocol_options: { x: { '@type': 't/X', v: 1 }, y: { '@type': 't/Y' } }, bytes: Buffer.from([1, 2]) };
  const sameInOtherOrder = { bytes: Buffer.from([1, 2]), typed_extension_protocol_options: { y: { '@type': 't/Y' }, x: { v: 1, '@type': 't/X' } }, connect_timeout: { seconds: 1 }, name: 'c' };
  assert.equal(canonKey(a), canonKey(sameInOtherOrder));
  assert.notEqual(canonKey(a), canonKey({ ...a, connect_timeout: { seconds: 2 } }));
  assert.notEqual(canonKey(a), canonKey({ ...a, bytes: Buffer.from([1, 3]) }));
  assert.notEqual(canonKey({ l: [1, 2] }), canonKey({ l: [2, 1] }), 'repeated fields keep their order');
});
