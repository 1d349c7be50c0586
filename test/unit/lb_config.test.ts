// Load-balancing configuration through the bootstrap decoder (the same one xDS clusters use):
// lb_policy and the typed load_balancing_policy land in one LbConfig; Envoy's validation
// rules are errors with field paths. And hash policies: the hash a request or connection
// gets, combined in order with Envoy's rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap } from '../../src/config/bootstrap';
import { ConfigError, ConfigIssues } from '../../src/config/issues';
import type { HeaderMap as HM } from '../../src/http/headers';
import { HeaderMap } from '../../src/http/headers';
import { computeConnectionHash, computeRequestHash, cookieValue, decodeRouteHashPolicies, type HashInput } from '../../src/routing/hash_policy';
import { hex16, xxh64 } from '../../src/upstream/lb/xxhash64';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}
const cluster = (extra: object) => ({ static_resources: { clusters: [{ name: 'c', ...extra }] } });
const lbOf = (extra: object) => decodeBootstrap(cluster(extra), 't').clusters[0].lb;
const errs = (extra: object) => issuesOf(() => decodeBootstrap(cluster(extra), 't'));
const P = 'static_resources.clusters[0]';
const typed = (t: string, cfg: object = {}) => ({
  load_balancing_policy: { policies: [{ typed_extension_config: { name: 'x', typed_config: { '@type': `type.googleapis.com/envoy.extensions.load_balancing_policies.${t}`, ...cfg } } }] },
});

test('lb_policy and its *_lb_config decode with Envoy defaults', () => {
  assert.deepEqual(
    (({ policy, minRingSize, maxRingSize, healthyPanicThreshold }) => ({ policy, minRingSize, maxRingSize, healthyPanicThreshold }))(lbOf({ lb_policy: 'RING_HASH' })),
    { policy: 'RING_HASH', minRingSize: 1024, maxRingSize: 8388608, healthyPanicThreshold: 50 },
  );
  assert.equal(lbOf({ lb_policy: 'MAGLEV' }).tableSize, 65537);
  const lr = lbOf({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: 'k' } } });
  assert.deepEqual([lr.policy, lr.choiceCount, lr.activeRequestBias], ['LEAST_REQUEST', 3, 0.5]);
  const common = lbOf({
    lb_policy: 'RING_HASH',
    common_lb_config: { healthy_panic_threshold: { value: 25 }, locality_weighted_lb_config: {}, consistent_hashing_lb_config: { use_hostname_for_hashing: true, hash_balance_factor: 150 } },
  });
  assert.deepEqual([common.healthyPanicThreshold, common.localityWeighted, common.useHostnameForHashing, common.hashBalanceFactor], [25, true, true, 150]);
  assert.equal(decodeBootstrap(cluster({ load_assignment: { cluster_name: 'c', policy: { overprovisioning_factor: 200 } } }), 't').clusters[0].overprovisioningFactor, 200);
});

test('the typed load_balancing_policy form: first supported policy wins', () => {
  const rh = lbOf(typed('ring_hash.v3.RingHash', { minimum_ring_size: 64, consistent_hashing_lb_config: { hash_balance_factor: 120 } }));
  assert.deepEqual([rh.policy, rh.minRingSize, rh.hashBalanceFactor], ['RING_HASH', 64, 120]);
  assert.equal(lbOf(typed('maglev.v3.Maglev', { table_size: 7 })).tableSize, 7);
  assert.equal(lbOf(typed('random.v3.Random')).policy, 'RANDOM');
  assert.equal(lbOf(typed('round_robin.v3.RoundRobin', { locality_lb_config: { locality_weighted_lb_config: {} } })).localityWeighted, true);
  assert.equal(lbOf(typed('least_request.v3.LeastRequest', { selection_method: 'FULL_SCAN' })).fullScan, true);
  const two = {
    load_balancing_policy: {
      policies: [
        { typed_extension_config: { name: 'wrr', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin' } } },
        { typed_extension_config: { name: 'mg', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev' } } },
      ],
    },
  };
  assert.equal(lbOf(two).policy, 'MAGLEV');
});

test('invalid load-balancing settings are errors with their field path', () => {
  assert.deepEqual(errs({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 8 } }), [`${P}.maglev_lb_config.table_size: The table size of maglev must be prime number`]);
  assert.deepEqual(errs({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 20, maximum_ring_size: 10 } }), [
    `${P}.ring_hash_lb_config: ring hash: minimum_ring_size (20) > maximum_ring_size (10)`,
  ]);
  assert.deepEqual(errs({ lb_policy: 'ROUND_ROBIN', ring_hash_lb_config: {} }), [`${P}.ring_hash_lb_config: only valid with lb_policy RING_HASH (lb_policy is ROUND_ROBIN)`]);
  assert.deepEqual(errs({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { slow_start_config: {} } }), [`${P}.least_request_lb_config.slow_start_config: not supported by switchyard`]);
  assert.deepEqual(errs({ common_lb_config: { zone_aware_lb_config: {} } }), [`${P}.common_lb_config.zone_aware_lb_config: not supported by switchyard`]);
  assert.deepEqual(errs({ lb_policy: 'RING_HASH', common_lb_config: { consistent_hashing_lb_config: { hash_balance_factor: 99 } } }), [
    `${P}.common_lb_config.consistent_hashing_lb_config.hash_balance_factor: value must be >= 100`,
  ]);
  assert.equal(errs(typed('pick_first.v3.PickFirst')).length, 1);
  assert.match(errs(typed('pick_first.v3.PickFirst'))[0], /load_balancing_policy\.policies: none of the policies is supported/);
});

function input(headers: [string, string][], path = '/', remote = '10.1.2.3'): HashInput {
  const h: HM = new HeaderMap();
  for (const [k, v] of headers) h.add(k, v);
  return {
    head: { method: 'GET', path, authority: 'svc', scheme: 'http', protocol: 'HTTP/1.1', headers: h },
    remoteAddress: remote, remotePort: 40000, localAddress: '127.0.0.1', localPort: 10000,
    setCookies: null, hashSet: false, hashHi: 0, hashLo: 0, filterState: undefined,
  };
}
const policies = (list: object[]) => {
  const issues = new ConfigIssues();
  const out = decodeRouteHashPolicies(list as any, 'hash_policy', issues);
  assert.deepEqual(issues.list, []);
  return out;
};
const hashOf = (s: HashInput) => (s.hashSet ? (BigInt(s.hashHi) << 32n) | BigInt(s.hashLo) : undefined);
const rotl1 = (x: bigint) => ((x << 1n) | (x >> 63n)) & ((1n << 64n) - 1n);

test('hash policies: header (all values, order-free, regex_rewrite), combining, terminal, no hash', () => {
  const hdr = policies([{ header: { header_name: 'x-user' } }]);
  let s = input([['x-user', 'alice']]);
  computeRequestHash(hdr, s);
  assert.equal(hashOf(s), xxh64('alice'));
  // Several values: sorted, each hashed with the previous hash as the seed.
  const a = input([['x-user', 'b'], ['x-user', 'a']]);
  const b = input([['x-user', 'a'], ['x-user', 'b']]);
  computeRequestHash(hdr, a);
  computeRequestHash(hdr, b);
  assert.equal(hashOf(a), xxh64('b', xxh64('a')));
  assert.equal(hashOf(a), hashOf(b));
  const rw = policies([{ header: { header_name: ':path', regex_rewrite: { pattern: { regex: '\\?.*' }, substitution: '' } } }]);
  s = input([], '/cart?x=1');
  computeRequestHash(rw, s);
  assert.equal(hashOf(s), xxh64('/cart'));
  // Two policies: rotl(h1, 1) ^ h2. A terminal policy that hashed stops the walk.
  const both = policies([{ header: { header_name: 'x-user' } }, { query_parameter: { name: 'q' } }]);
  s = input([['x-user', 'alice']], '/?a=1&q=42');
  computeRequestHash(both, s);
  assert.equal(hashOf(s), rotl1(xxh64('alice')) ^ xxh64('42'));
  const term = policies([{ header: { header_name: 'x-user' }, terminal: true }, { query_parameter: { name: 'q' } }]);
  computeRequestHash(term, s);
  assert.equal(hashOf(s), xxh64('alice'));
  s = input([], '/');
  computeRequestHash(both, s);
  assert.equal(s.hashSet, false, 'no input, no hash: the balancer picks at random');
});

test('hash policies: cookie generated from the connection addresses, then read back', () => {
  const ck = policies([{ cookie: { name: 'sticky', ttl: { seconds: 3600 }, path: '/', attributes: [{ name: 'SameSite', value: 'Lax' }, { name: 'Secure' }] } }]);
  const s = input([]);
  computeRequestHash(ck, s);
  const v = xxh64('10.1.2.3:40000127.0.0.1:10000');
  const hex = hex16(Number(v >> 32n), Number(v & 0xffffffffn));
  assert.deepEqual(s.setCookies, [`sticky="${hex}"; Max-Age=3600; Path=/; SameSite=Lax; Secure; HttpOnly`]);
  assert.equal(hashOf(s), xxh64(hex));
  const back = input([['cookie', `other=1; sticky="${hex}"`]]);
  computeRequestHash(ck, back);
  assert.equal(back.setCookies, null);
  assert.equal(hashOf(back), hashOf(s));
  assert.equal(cookieValue(input([['cookie', 'a=1;b=2'], ['cookie', 'c=3']]).head, 'c'), '3');
  // Without ttl a missing cookie gives no hash and no Set-Cookie.
  const nottl = input([]);
  computeRequestHash(policies([{ cookie: { name: 'sticky' } }]), nottl);
  assert.equal(nottl.hashSet, false);
  assert.equal(nottl.setCookies, null);
});

test('hash policies: source IP for HTTP and tcp_proxy', () => {
  const s = input([], '/', '127.0.0.7');
  computeRequestHash(policies([{ connection_properties: { source_ip: true } }]), s);
  assert.equal(hashOf(s), xxh64('127.0.0.7'));
  const c = { hashSet: false, hashHi: 0, hashLo: 0 };
  computeConnectionHash([{ t: 'source_ip', terminal: false }], '127.0.0.7', undefined, c);
  assert.equal(hashOf(c as any), xxh64('127.0.0.7'));
  // filter_state: the object's string value, as Envoy's string accessor hashes it; absent, no hash.
  computeConnectionHash([{ t: 'filter_state', key: 'tenant', terminal: false }], '127.0.0.7', new Map([['tenant', 'a']]), c);
  assert.equal(hashOf(c as any), xxh64('a'));
  computeConnectionHash([{ t: 'filter_state', key: 'tenant', terminal: false }], '127.0.0.7', new Map(), c);
  assert.equal(c.hashSet, false);
});
