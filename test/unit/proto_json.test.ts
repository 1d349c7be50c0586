// The proto3 JSON mapping → canonical form, the binary canonicalizer, PGV rules and the
// config_dump printer, exercised on real Envoy types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { ConfigError, ConfigIssues } from '../../src/config/issues';
import { fromJson, toProtoJson } from '../../src/xds/proto/json';
import { canonicalize, fromBinaryAny, toBinary } from '../../src/xds/proto/binary';
import { mustLookupType } from '../../src/xds/proto/root';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const CLUSTER_URL = 'type.googleapis.com/' + CLUSTER;

function decode(type: string, value: unknown) {
  const issues = new ConfigIssues();
  const canon = fromJson(value, type, issues);
  return { canon, issues: issues.list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)) };
}

function decodeOk(type: string, value: unknown) {
  const r = decode(type, value);
  assert.deepEqual(r.issues, []);
  return r.canon!;
}

function roundTrip(type: string, canon: unknown) {
  const issues = new ConfigIssues();
  const back = fromBinaryAny('type.googleapis.com/' + type, toBinary(type, canon), issues);
  assert.deepEqual(issues.list, []);
  return back;
}

const sock = (port: unknown) => ({ address: { socket_address: { address: '10.0.0.1', port_value: port } } });

test('the good bootstrap fixture survives JSON → canonical → binary → canonical unchanged', () => {
  const value = yaml.load(fs.readFileSync(path.join(__dirname, '../fixtures/bootstrap-good.yaml'), 'utf8'));
  const canon = decodeOk('envoy.config.bootstrap.v3.Bootstrap', value);
  // Spot-check the canonical shapes the round trip must keep.
  const web = canon.static_resources.clusters[0];
  assert.deepEqual(web.connect_timeout, { nanos: 250000000 });
  // ROUND_ROBIN is the enum's zero value: absent from the canonical form, as in the binary one.
  assert.equal(web.lb_policy, undefined);
  // UInt64Value → bare number (a proto-level check: Switchyard's cluster decoder rejects ring hash for now).
  assert.equal(decodeOk(CLUSTER, { name: 'x', ring_hash_lb_config: { minimum_ring_size: '1024' } }).ring_hash_lb_config.minimum_ring_size, 1024);
  assert.deepEqual(canon.node.metadata, { app: 'web', version: 1 }); // Struct → plain JSON
  const tcp = canon.static_resources.listeners[1].filter_chains[0].filters[0].typed_config;
  assert.equal(tcp['@type'], 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
  assert.equal(tcp.stat_prefix, 'db_tls'); // written as statPrefix
  assert.equal(tcp.max_connect_attempts, 3);
  assert.deepEqual(tcp.idle_timeout, {}); // "0s" is a present, zero Duration
  assert.deepEqual(roundTrip('envoy.config.bootstrap.v3.Bootstrap', canon), canon);
});

test('bytes, Timestamp, Any, wrappers and int64 round trip', () => {
  const ds = decodeOk('envoy.config.core.v3.DataSource', { inline_bytes: Buffer.from('hi\x00there').toString('base64') });
  assert.deepEqual(ds.inline_bytes, Buffer.from('hi\x00there'));
  assert.deepEqual(roundTrip('envoy.config.core.v3.DataSource', ds), ds);

  const ufs = decodeOk('envoy.admin.v3.UpdateFailureState', {
    last_update_attempt: '2024-02-03T04:05:06.5Z',
    details: 'x',
    failed_configuration: { '@type': CLUSTER_URL, name: 'c', per_connection_buffer_limit_bytes: 0, connect_timeout: '1.5s' },
  });
  assert.deepEqual(ufs.last_update_attempt, { seconds: Date.UTC(2024, 1, 3, 4, 5, 6) / 1000, nanos: 500000000 });
  assert.deepEqual(ufs.failed_configuration, {
    '@type': CLUSTER_URL, name: 'c', per_connection_buffer_limit_bytes: 0, connect_timeout: { seconds: 1, nanos: 500000000 },
  });
  assert.deepEqual(roundTrip('envoy.admin.v3.UpdateFailureState', ufs), ufs);

  const r = decodeOk('envoy.type.v3.Int64Range', { start: '-5', end: 9007199254740991 });
  assert.deepEqual(r, { start: -5, end: 9007199254740991 });
  assert.deepEqual(roundTrip('envoy.type.v3.Int64Range', r), r);
});

test('snake_case and lowerCamelCase names decode to the same canonical object', () => {
  const a = decodeOk(CLUSTER, { name: 'x', connect_timeout: '1s', per_connection_buffer_limit_bytes: 5 });
  const b = decodeOk(CLUSTER, { name: 'x', connectTimeout: '1s', perConnectionBufferLimitBytes: 5 });
  assert.deepEqual(a, b);
  assert.deepEqual(decode(CLUSTER, { name: 'x', connect_timeout: '1s', connectTimeout: '2s' }).issues, [
    'connect_timeout: set twice (as "connect_timeout" and "connectTimeout")',
  ]);
});

test('unknown fields and wrong types are reported with their paths, all of them', () => {
  const r = decode(CLUSTER, {
    name: 5,
    colour: 'red',
    load_assignment: { cluster_name: 'x', endpoints: [{ lb_endpoints: [{ endpoint: sock(80) }, { endpoint: sock('http') }] }] },
    dns_refresh_rate: 3,
    lb_policy: 'FASTEST',
    health_checks: 'no',
    metadata: { filter_metadata: { a: 'b' } },
  });
  assert.deepEqual(r.issues, [
    'name: expected string, got 5',
    'unknown field "colour"',
    'load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value: expected integer, got "http"',
    'dns_refresh_rate: expected duration string like "1.5s", got 3',
    'lb_policy: unknown value "FASTEST" for enum LbPolicy; expected one of ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV, CLUSTER_PROVIDED, LOAD_BALANCING_POLICY_CONFIG',
    'health_checks: expected array, got "no"',
    'metadata.filter_metadata["a"]: expected object, got "b"',
  ]);
  // What decoded cleanly is still there.
  assert.equal(r.canon!.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 80);
});

test('integers: numbers or numeric strings, integral, range-checked', () => {
  const sa = 'envoy.config.core.v3.SocketAddress';
  assert.equal(decodeOk(sa, { address: 'a', port_value: '8080' }).port_value, 8080);
  assert.deepEqual(decode(sa, { address: 'a', port_value: 1.5 }).issues, ['port_value: expected integer, got 1.5']);
  assert.deepEqual(decode(sa, { address: 'a', port_value: -1 }).issues, ['port_value: value -1 out of range for uint32']);
  assert.deepEqual(decode(sa, { address: 'a', port_value: 4294967296 }).issues, [
    'port_value: value 4294967296 out of range for uint32',
  ]);
  assert.deepEqual(decode(sa, { address: 'a', port_value: true }).issues, ['port_value: expected integer, got true']);
});

test('enums by name or number; numbers map to names', () => {
  assert.equal(decodeOk(CLUSTER, { name: 'x', lb_policy: 'MAGLEV' }).lb_policy, 'MAGLEV');
  assert.equal(decodeOk(CLUSTER, { name: 'x', lb_policy: 2 }).lb_policy, 'RING_HASH');
  // ROUND_ROBIN is the zero value of a proto3 scalar: absent in canonical form, as on the wire.
  assert.equal(decodeOk(CLUSTER, { name: 'x', lb_policy: 'ROUND_ROBIN' }).lb_policy, undefined);
  // An undefined number is rejected by PGV's defined_only.
  assert.deepEqual(decode(CLUSTER, { name: 'x', lb_policy: 99 }).issues, ['lb_policy: value 99 is not a defined enum value']);
});

test('oneof: two members set is an error naming both', () => {
  assert.deepEqual(decode('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 1, named_port: 'http' }).issues, [
    'named_port: "named_port" and "port_value" are both set, but only one field of oneof "port_specifier" may be set',
  ]);
});

test('Duration strings', () => {
  const d = (s: unknown) => decode(CLUSTER, { name: 'x', dns_refresh_rate: s });
  assert.deepEqual(d('0.25s').canon!.dns_refresh_rate, { nanos: 250000000 });
  assert.deepEqual(d('1s').canon!.dns_refresh_rate, { seconds: 1 });
  assert.deepEqual(d('1.5s').canon!.dns_refresh_rate, { seconds: 1, nanos: 500000000 });
  assert.deepEqual(d('0.000000001s').canon!.dns_refresh_rate, { nanos: 1 });
  for (const bad of ['1.5', '1m', '1.0000000001s', 's', ' 1s']) {
    assert.deepEqual(d(bad).issues, [`dns_refresh_rate: invalid duration ${JSON.stringify(bad)}: expected e.g. "1s", "0.25s"`]);
  }
});

test('wrappers are bare values; Struct is plain JSON; null means absent', () => {
  const c = decodeOk(CLUSTER, {
    name: 'x',
    per_connection_buffer_limit_bytes: 0,
    respect_dns_ttl: null,
    metadata: { filter_metadata: { 'envoy.lb': { canary: true, n: [1, 'a', null, { x: {} }] } } },
  });
  assert.deepEqual(c, {
    name: 'x',
    per_connection_buffer_limit_bytes: 0,
    metadata: { filter_metadata: { 'envoy.lb': { canary: true, n: [1, 'a', null, { x: {} }] } } },
  });
  assert.deepEqual(roundTrip(CLUSTER, c), c);
  assert.deepEqual(decode(CLUSTER, { name: 'x', per_connection_buffer_limit_bytes: 'lots' }).issues, [
    'per_connection_buffer_limit_bytes: expected integer, got "lots"',
  ]);
});

test('bytes must be base64', () => {
  assert.deepEqual(decode('envoy.config.core.v3.DataSource', { inline_bytes: 'not base64!' }).issues, [
    'inline_bytes: expected base64 string, got "not base64!"',
  ]);
});

test('Any: known types recurse with paths, unknown types become a marker without error', () => {
  const opts = (v: unknown) => decode(CLUSTER, { name: 'x', typed_extension_protocol_options: { k: v } });
  const unknown = opts({ '@type': 'type.googleapis.com/acme.Thing', anything: [1] });
  assert.deepEqual(unknown.issues, []);
  assert.deepEqual(unknown.canon!.typed_extension_protocol_options.k, { '@type': 'type.googleapis.com/acme.Thing', '@unknown': true });
  assert.deepEqual(opts({ '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit: 1, explicit_http_config: { http_protocol_options: {} } }).issues, [
    'typed_extension_protocol_options["k"]: unknown field "explicit"',
  ]);
  assert.deepEqual(opts({ explicit_http_config: {} }).issues, ['typed_extension_protocol_options["k"]: missing "@type"']);
  // An Any holding a well-known type uses {"@type", "value"}.
  const w = decodeOk('envoy.admin.v3.UpdateFailureState', {
    failed_configuration: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' },
  });
  assert.deepEqual(w.failed_configuration, { '@type': 'type.googleapis.com/google.protobuf.Duration', value: { seconds: 2 } });
  assert.deepEqual(roundTrip('envoy.admin.v3.UpdateFailureState', w), w);
});

test('PGV rules: bounds, min_len, required message, min_items, required oneof', () => {
  assert.deepEqual(decode('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 65536 }).issues, [
    'port_value: value must be <= 65535',
  ]);
  assert.deepEqual(decode('envoy.config.core.v3.SocketAddress', { port_value: 1 }).issues, ['address: must not be empty']);
  assert.deepEqual(decode(CLUSTER, { name: 'x', connect_timeout: '0s' }).issues, ['connect_timeout: value must be > 0s']);
  assert.deepEqual(decode('envoy.config.route.v3.VirtualHost', { name: 'v', routes: [{ route: { cluster: 'c' } }] }).issues, [
    'routes[0].match: is required',
    'domains: must have at least 1 item',
  ]);
  assert.deepEqual(decode('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { stat_prefix: 's' }).issues, [
    'cluster_specifier: is required: set one of cluster, weighted_clusters',
  ]);
  // The member of a oneof that is not set is not validated.
  assert.deepEqual(decode('envoy.config.route.v3.RouteMatch', { prefix: '/' }).issues, []);
});

test('binary: canonicalize a decoded message (enum numbers → names, Long → number, Any unpacked, PGV checked)', () => {
  const t = mustLookupType(CLUSTER);
  const msg = t.decode(t.encode(t.fromObject({
    name: 'c', lb_policy: 3, dns_refresh_rate: { seconds: 7 }, type: 0,
    typed_extension_protocol_options: {
      k: { type_url: 'type.googleapis.com/acme.X', value: Buffer.from([1, 2]) },
    },
  })).finish());
  // `type` is a oneof member, so an explicit zero (STATIC) is present; lb_policy is not.
  assert.deepEqual(canonicalize(CLUSTER, msg as any), {
    name: 'c', type: 'STATIC', lb_policy: 'RANDOM', dns_refresh_rate: { seconds: 7 },
    typed_extension_protocol_options: { k: { '@type': 'type.googleapis.com/acme.X', '@unknown': true } },
  });
  const bad = toBinary(CLUSTER, { name: 'c', load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: sock(70000) }] }] } });
  const issues = new ConfigIssues();
  fromBinaryAny(CLUSTER_URL, bad, issues, 'resource');
  assert.deepEqual(issues.list.map((i) => `${i.path}: ${i.message}`), [
    'resource.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: value must be <= 65535',
  ]);
  assert.throws(() => fromBinaryAny(CLUSTER_URL, bad), ConfigError);
  assert.throws(() => fromBinaryAny(CLUSTER_URL, Buffer.from([0xff, 0xff, 0xff])), ConfigError);
});

test('toProtoJson prints what config_dump shows, and reads back to the same canonical form', () => {
  const canon = decodeOk(CLUSTER, {
    name: 'c', connectTimeout: '0.25s', lb_policy: 'MAGLEV', dns_refresh_rate: '1.5s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        common_http_protocol_options: { idle_timeout: '60s' },
        use_downstream_protocol_config: {},
      },
    },
    ring_hash_lb_config: { maximum_ring_size: 4096 },
  });
  const out = toProtoJson(CLUSTER, canon) as any;
  assert.equal(out.connect_timeout, '0.250s');
  assert.equal(out.dns_refresh_rate, '1.500s');
  assert.equal(out.lb_policy, 'MAGLEV');
  assert.equal(out.ring_hash_lb_config.maximum_ring_size, '4096'); // UInt64Value: int64 prints as a string
  assert.deepEqual(out.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'], {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    common_http_protocol_options: { idle_timeout: '60s' },
    use_downstream_protocol_config: {},
  });
  assert.deepEqual(decodeOk(CLUSTER, JSON.parse(JSON.stringify(out))), canon);
});

test('Timestamp format errors, null list elements and non-object messages are reported by path', () => {
  assert.deepEqual(decode('envoy.admin.v3.UpdateFailureState', { last_update_attempt: '2024-02-03 04:05' }).issues, [
    'last_update_attempt: invalid timestamp "2024-02-03 04:05": expected RFC 3339',
  ]);
  assert.deepEqual(decode('envoy.config.route.v3.VirtualHost', { name: 'v', domains: ['a', null] }).issues, [
    'domains[1]: list element must not be null',
  ]);
  assert.deepEqual(decode(CLUSTER, { name: 'x', load_assignment: 'all' }).issues, ['load_assignment: expected object, got "all"']);
  assert.deepEqual(decode(CLUSTER, []).issues, ['expected object, got array']);
});
