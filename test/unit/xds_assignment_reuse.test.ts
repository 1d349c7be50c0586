// Large ClusterLoadAssignments reuse the canonical form of endpoints whose bytes did not
// change (src/xds/proto/assignment_reuse.ts). The result must be what decoding the whole
// message gives, key order included, and bad input must get the ordinary errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigIssues } from '../../src/config/issues';
import { canonicalize, decodeExact, fromBinaryAny, toBinary } from '../../src/xds/proto/binary';
import { mustLookupType } from '../../src/xds/proto/root';

const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const URL = 'type.googleapis.com/' + CLA;

function endpoint(i: number, port: number): Record<string, unknown> {
  const e: Record<string, unknown> = { endpoint: { address: { socket_address: { address: `10.0.${i >> 8}.${i & 255}`, port_value: port } } } };
  if (i % 3 === 0) e.load_balancing_weight = 1 + (i % 7);
  if (i % 5 === 0) e.health_status = 'DRAINING';
  if (i % 11 === 0) e.metadata = { filter_metadata: { 'envoy.lb': { hash_key: `k${i}` } } };
  if (i % 13 === 0) (e.endpoint as Record<string, unknown>).hostname = `h${i}.example`;
  return e;
}

function assignment(name: string, n: number, changed: number, port = 9000): Record<string, unknown> {
  const lb = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => endpoint(from + k, from + k === changed ? port : 8000));
  return {
    cluster_name: name,
    endpoints: [
      { locality: { region: 'r1', zone: 'z1' }, lb_endpoints: lb(0, n / 2), load_balancing_weight: 3 },
      { locality: { region: 'r1', zone: 'z2' }, lb_endpoints: lb(n / 2, n), priority: 1 },
    ],
    policy: { overprovisioning_factor: 150 },
  };
}

/** The whole-message path, for comparison. */
function ordinary(bytes: Uint8Array): unknown {
  const t = mustLookupType(CLA);
  return canonicalize(t, decodeExact(t, bytes), new ConfigIssues(), '');
}

test('a large assignment decodes to exactly the whole-message canonical form, version after version', () => {
  let prev: any;
  for (let v = 0; v < 4; v++) {
    const bytes = toBinary(CLA, assignment('reuse-a', 200, v * 7, 9000 + v));
    const issues = new ConfigIssues();
    const got = fromBinaryAny(URL, bytes, issues) as any;
    assert.deepEqual(issues.list, []);
    assert.equal(JSON.stringify(got), JSON.stringify(ordinary(bytes)), `version ${v}: same content and key order`);
    if (prev) {
      // An endpoint that did not change is the same object; the changed one is new.
      assert.equal(got.endpoints[1].lb_endpoints[50], prev.endpoints[1].lb_endpoints[50]);
      assert.notEqual(got.endpoints[0].lb_endpoints[v * 7], prev.endpoints[0].lb_endpoints[v * 7]);
    }
    prev = got;
  }
});

test('a bad endpoint in a large assignment gets the ordinary error and path', () => {
  fromBinaryAny(URL, toBinary(CLA, assignment('reuse-b', 100, 3)), new ConfigIssues());
  const bad = assignment('reuse-b', 100, 3);
  (bad.endpoints as any)[1].lb_endpoints[4].endpoint.address.socket_address.port_value = 70000;
  const issues = new ConfigIssues();
  fromBinaryAny(URL, toBinary(CLA, bad), issues);
  assert.deepEqual(issues.list.map((i) => `${i.path}: ${i.message}`), [
    'endpoints[1].lb_endpoints[4].endpoint.address.socket_address.port_value: value must be <= 65535',
  ]);
  const noName = assignment('', 100, 3);
  const issues2 = new ConfigIssues();
  fromBinaryAny(URL, toBinary(CLA, noName), issues2);
  assert.deepEqual(issues2.list.map((i) => `${i.path}: ${i.message}`), ['cluster_name: must not be empty']);
});

test('truncated bytes of a large assignment are refused as before', () => {
  const bytes = toBinary(CLA, assignment('reuse-c', 100, 1));
  const issues = new ConfigIssues();
  fromBinaryAny(URL, bytes.subarray(0, bytes.length - 3), issues);
  assert.equal(issues.list.length, 1);
  assert.match(issues.list[0].message, /cannot decode ClusterLoadAssignment/);
});
