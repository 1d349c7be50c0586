// The ADS client's pieces that need no sockets: decoding a response into per-resource
// outcomes (gRFC A46), SotW removal semantics, applying a response through a handler
// (ACK/NACK, kept version, failure state), backoff bounds, ready() and the node identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toAny } from '../../src/xds/proto/binary';
import { mustLookupType } from '../../src/xds/proto/root';
import { Backoff } from '../../src/xds/client/backoff';
import { decodeDelta, decodeSotw, errorLine } from '../../src/xds/client/decode';
import { clientFeatures, nodeCanon, nodeMessage, semanticVersion } from '../../src/xds/client/node';
import { Codec } from '../../src/xds/client/protocol';
import { TYPE_URLS, ResourceUpdate } from '../../src/xds/client/types';
import { WatchState, sotwRemovals } from '../../src/xds/client/watch_state';
import { VERSION } from '../../src/version';

const { LDS, CDS, EDS } = TYPE_URLS;
const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const LISTENER = 'envoy.config.listener.v3.Listener';
const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';

const cluster = (name: string, extra: object = {}) => toAny(CLUSTER, { name, type: 'STATIC', connect_timeout: { seconds: 1 }, ...extra });
const listener = (name: string, port: number) => toAny(LISTENER, { name, address: { socket_address: { address: '127.0.0.1', port_value: port } } });
const cla = (name: string) => toAny(CLA, { cluster_name: name });
const errLines = (b: ReturnType<typeof decodeSotw>) => b.errors.map(errorLine);

test('decode: good resources decode to canonical objects; each bad one is its own error with a field path', () => {
  const b = decodeSotw(LDS, [
    listener('good', 8080),
    listener('bad-port', 70000), // PGV: port_value lte 65535
    cluster('a-cluster'), // wrong type in an LDS response
    { type_url: LDS, value: Buffer.from([0x0f]) }, // not protobuf (wire type 7)
    listener('', 8081), // no name
  ], 'v1');
  assert.deepEqual([...b.good.keys()], ['good']);
  const g = b.good.get('good')!;
  assert.equal(g.resource.address.socket_address.port_value, 8080);
  assert.equal(g.version, 'v1');
  assert.equal(g.raw.type_url, LDS);
  const lines = errLines(b);
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0], /^bad-port: address\.socket_address\.port_value: .*65535/);
  assert.equal(lines[1], `resources[2]: type_url: expected "${LDS}", got "${CDS}"`);
  assert.match(lines[2], /^resources\[3\]: cannot decode Listener/);
  assert.equal(lines[3], 'resources[4]: name: the resource has no name');
  assert.equal(b.errors[0].name, 'bad-port');
  assert.equal(b.errors[1].name, undefined, 'a wrong-typed resource is not attributed to a name');
});

test('decode: a duplicated name rejects every copy; ClusterLoadAssignments are named by cluster_name', () => {
  const b = decodeSotw(CDS, [cluster('c1'), cluster('dup'), cluster('dup', { connect_timeout: { seconds: 2 } })], 'v');
  assert.deepEqual([...b.good.keys()], ['c1']);
  assert.deepEqual(errLines(b), ['dup: the name appears more than once in the response']);
  const e = decodeSotw(EDS, [cla('c1'), cla('c2')], 'v');
  assert.deepEqual([...e.good.keys()], ['c1', 'c2']);
  assert.equal(e.errors.length, 0);
});

test('decode: SotW unwraps envoy.service.discovery.v3.Resource (xds.config.resource-in-sotw)', () => {
  const R = mustLookupType('envoy.service.discovery.v3.Resource');
  const wrapped = { type_url: 'type.googleapis.com/envoy.service.discovery.v3.Resource', value: R.encode(R.fromObject({ name: 'w', version: 'x', resource: cluster('w') })).finish() };
  const b = decodeSotw(CDS, [wrapped], 'v9');
  assert.deepEqual([...b.good.keys()], ['w']);
  assert.equal(b.good.get('w')!.version, 'v9', 'SotW resources take the response version');
});

test('decode: delta resources carry name and version; a name mismatch or a missing body is an error', () => {
  const b = decodeDelta(CDS, [
    { name: 'c1', version: 'h1', resource: cluster('c1') },
    { name: 'c2', version: 'h2', resource: cluster('other') },
    { name: 'c3', version: 'h3' },
  ]);
  assert.deepEqual([...b.good.keys()], ['c1']);
  assert.equal(b.good.get('c1')!.version, 'h1');
  assert.deepEqual(errLines(b), [
    'c2: name: "other" differs from the resource name "c2"',
    'c3: resource: no resource body (TTL heartbeats are not supported)',
  ]);
});

test('SotW removals: Listener/Cluster absence is deletion; RDS/EDS absence is nothing; an unnamed error blocks removals', () => {
  const held = ['a', 'b', 'c'];
  const batch = decodeSotw(CDS, [cluster('a'), cluster('b', { connect_timeout: { seconds: -1 } })], 'v');
  assert.equal(batch.errors.length, 1, 'b is bad but named');
  assert.deepEqual(sotwRemovals(CDS, held, batch), ['c'], 'b failed but is present: not removed');
  assert.deepEqual(sotwRemovals(LDS, ['x'], decodeSotw(LDS, [], 'v')), ['x'], 'an empty LDS response removes everything');
  assert.deepEqual(sotwRemovals(EDS, ['a', 'z'], decodeSotw(EDS, [cla('a')], 'v')), []);
  const unnamed = decodeSotw(CDS, [cluster('a'), { type_url: CDS, value: Buffer.from([0xff]) }], 'v');
  assert.deepEqual(sotwRemovals(CDS, held, unnamed), [], 'cannot tell a bad copy from a deletion');
});

function recorder(reject: (n: string) => string | undefined = () => undefined) {
  const updates: ResourceUpdate[] = [];
  return {
    updates,
    apply(u: ResourceUpdate) {
      updates.push(u);
      const m = new Map<string, string>();
      for (const n of u.added.keys()) {
        const why = reject(n);
        if (why) m.set(n, why);
      }
      return m;
    },
  };
}

test('commit: a rejected resource NACKs, keeps the previous version_info and its failure; the others apply', async () => {
  let rejectB = false;
  const h = recorder((n) => (rejectB && n === 'b' ? 'b is broken' : undefined));
  const w = new WatchState(CDS, '*', h, 0);
  const first = w.commit('v1', 'n1', decodeSotw(CDS, [cluster('a'), cluster('b')], 'v1'), []);
  assert.deepEqual(first, { t: 'ack', versionInfo: 'v1' });
  assert.equal(await w.ready, 'received');

  rejectB = true;
  const batch = decodeSotw(CDS, [cluster('a', { connect_timeout: { seconds: 5 } }), cluster('b'), listener('x', 1)], 'v2');
  const out = w.commit('v2', 'n2', batch, []);
  assert.equal(out.t, 'nack');
  assert.equal((out as { details: string }).details, `resources[2]: type_url: expected "${CDS}", got "${LDS}"\nb: b is broken`);
  assert.deepEqual([...h.updates[1].added.keys()], ['a', 'b'], 'the handler got the good ones');
  assert.equal(w.versionInfo, 'v1', 'NACK keeps the last accepted version');
  assert.equal(w.accepted.get('a')!.version, 'v2', 'a applied at v2');
  assert.equal(w.accepted.get('b')!.version, 'v1', 'b stays at v1');
  const d = w.dump();
  assert.equal(d.last_nack?.nonce, 'n2');
  const b = d.resources.find((r) => r.name === 'b')!;
  assert.equal(b.error_state?.details, 'b: b is broken');
  assert.equal(b.error_state?.version_info, 'v2');
  assert.equal(b.version, 'v1');

  // A later good response clears b's failure.
  rejectB = false;
  assert.equal(w.commit('v3', 'n3', decodeSotw(CDS, [cluster('a'), cluster('b')], 'v3'), []).t, 'ack');
  assert.equal(w.dump().resources.find((r) => r.name === 'b')!.error_state, undefined);
});

test('commit: a throwing handler rejects the whole update; removals name only what the handler held; out-of-scope names are dropped', () => {
  const w = new WatchState(EDS, ['a', 'b'], { apply: () => { throw new Error('boom'); } }, 0);
  const out = w.commit('1', 'n', decodeSotw(EDS, [cla('a')], '1'), []);
  assert.equal(out.t, 'nack');
  assert.match((out as { details: string }).details, /^a: handler failed: boom$/);

  const h = recorder();
  const w2 = new WatchState(EDS, ['a', 'b'], h, 0);
  w2.commit('1', 'n1', decodeSotw(EDS, [cla('a'), cla('zzz')], '1'), []);
  assert.deepEqual([...h.updates[0].added.keys()], ['a'], 'zzz is not subscribed');
  w2.commit('2', 'n2', decodeDelta(EDS, []), ['a', 'b', 'never-held']);
  assert.deepEqual(h.updates[1].removed, ['a']);
  assert.deepEqual(w2.setNames(['b', 'c']), { subscribe: ['c'], unsubscribe: ['a'] });
});

test('ready(): resolves on the first response, on timeout, and never by itself with timeout 0', async () => {
  const timed = new WatchState(CDS, '*', recorder(), 20);
  assert.equal(await timed.ready, 'timeout');
  const forever = new WatchState(CDS, '*', recorder(), 0);
  const r = await Promise.race([forever.ready, new Promise((res) => setTimeout(() => res('pending'), 50))]);
  assert.equal(r, 'pending');
  forever.commit('v', 'n', decodeSotw(CDS, [], 'v'), []);
  assert.equal(await forever.ready, 'received');
});

test('backoff: full jitter under an exponential ceiling capped at max; reset starts over', () => {
  const hi = new Backoff({ baseMs: 500, maxMs: 30_000, random: () => 0.999999 });
  const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  for (const c of ceilings) {
    assert.equal(hi.ceiling(), c);
    const d = hi.next();
    assert.ok(d >= 0 && d < c, `${d} < ${c}`);
    assert.ok(d >= c * 0.99, 'random near 1 gives nearly the ceiling');
  }
  for (let i = 0; i < 100; i++) assert.ok(hi.next() < 30_000, 'never above max');
  hi.reset();
  assert.equal(hi.ceiling(), 500);
  const lo = new Backoff({ random: () => 0 });
  assert.equal(lo.next(), 0);
  const bad = new Backoff({ random: () => 7 });
  assert.ok(bad.next() < 500, 'an out-of-range random cannot push past the ceiling');
});

test('node: id, cluster, metadata, locality, user agent and build version, client features on the wire', () => {
  assert.deepEqual(semanticVersion('1.22.3-rc1'), { major_number: 1, minor_number: 22, patch: 3 });
  assert.deepEqual(semanticVersion('x'), { major_number: 0, minor_number: 0, patch: 0 });
  assert.ok(!clientFeatures().includes('envoy.lb.does_not_support_overprovisioning'));
  assert.ok(clientFeatures({ lbDoesNotSupportOverprovisioning: true }).includes('envoy.lb.does_not_support_overprovisioning'));

  const info = { id: 'n1', cluster: 'c1', metadata: { a: 'b', n: 2 }, locality: { zone: 'z' } };
  assert.equal(nodeCanon(info).user_agent_name, 'switchyard');
  const codec = new Codec('DiscoveryRequest', 'DiscoveryResponse');
  const req = codec.decodeRequest(codec.encode({ type_url: CDS, node: nodeMessage(info), resource_names: ['*'] }));
  const n = req.node;
  assert.equal(n.id, 'n1');
  assert.equal(n.cluster, 'c1');
  assert.equal(n.locality.zone, 'z');
  assert.equal(n.user_agent_name, 'switchyard');
  assert.deepEqual(n.user_agent_build_version.version, semanticVersion(VERSION));
  assert.deepEqual(n.client_features, ['xds.config.resource-in-sotw']);
  assert.ok(n.metadata.fields.a, 'metadata is a Struct');
});
