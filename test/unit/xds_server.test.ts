// The reference management server's pieces that need no sockets: the mesh loader's errors
// and node matching, and the incremental (delta) subscription bookkeeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/config/issues';
import { DeltaSubscription, VersionedResource } from '../../src/xds/server/delta_state';
import { groupFor, parseMesh } from '../../src/xds/server/mesh';
import { MeshStore } from '../../src/xds/server/store';
import { ManagementServer } from '../../src/xds/server/server';
import { typeStatus } from '../../src/xds/server/status';
import { namesForLog } from '../../src/xds/server/stream_base';
import { log } from '../../src/log';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

function errorsOf(text: string, file = 'mesh.yaml'): string[] {
  try {
    parseMesh(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(e.message.includes(file), 'the error names the file');
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return assert.fail('expected a ConfigError');
}

test('mesh: resources decode per group, CLAs are named by cluster_name, versions are content hashes', () => {
  const m = parseMesh(
    `groups:
- match: { node_id: a }
  clusters: [{ name: c1, connect_timeout: 1s }, { name: c2 }]
  cluster_load_assignments: [{ cluster_name: c1 }]
default:
  clusters: [{ name: c1, connect_timeout: 2s }]
`,
    'mesh.yaml',
  );
  const g = m.groups[0];
  assert.deepEqual([...g.resources.get(CDS)!.keys()], ['c1', 'c2']);
  assert.deepEqual([...g.resources.get(EDS)!.keys()], ['c1']);
  const a = g.resources.get(CDS)!.get('c1')!;
  const d = m.fallback.resources.get(CDS)!.get('c1')!;
  assert.equal(a.any.type_url, CDS);
  assert.notEqual(a.version, d.version, 'different content, different version');
  const again = parseMesh('default:\n  clusters: [{ name: c1, connect_timeout: 2s }]\n', 'x.yaml');
  assert.equal(again.fallback.resources.get(CDS)!.get('c1')!.version, d.version, 'same content, same version');
});

test('mesh: every error is reported with its field path and reason', () => {
  const errs = errorsOf(`groups:
- match: { node_id: a, pod: x }
  clusters:
  - { name: c1, connect_timeout: 5 }
  - { connect_timeout: 1s }
  - { name: c3 }
  - { name: c3 }
  listeners: { name: not-a-list }
  endpoints: []
- clusters: []
default:
  cluster_load_assignments: [{ cluster_name: e, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 1.2.3.4, port_value: 70000 } } } }] }] }]
extra: 1
`);
  const expect = [
    ': unknown field "extra"',
    'groups[0].match: unknown field "pod"',
    'groups[0]: unknown field "endpoints"',
    'groups[0].clusters[0].connect_timeout: expected duration',
    'groups[0].clusters[1].name: must not be empty',
    'groups[0].clusters[3].name: duplicate clusters name "c3"',
    'groups[0].listeners: expected a list',
    'groups[1].match: expected a mapping',
    'default.cluster_load_assignments[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
  ];
  for (const e of expect) assert.ok(errs.some((x) => x.startsWith(e)), `missing "${e}" in:\n${errs.join('\n')}`);
});

test('mesh: YAML syntax errors and Any types whose proto is not loaded are rejected', () => {
  assert.ok(errorsOf('groups: [\n')[0].includes('not valid YAML'));
  const errs = errorsOf(`default:
  listeners:
  - name: l
    filter_chains: [{ filters: [{ name: f, typed_config: { "@type": type.googleapis.com/example.Unknown } }] }]
`);
  assert.ok(errs.some((e) => e.startsWith('default.listeners[0]: cannot encode') && e.includes('example.Unknown')), errs.join('\n'));
});

test('mesh: a JSON file (the fast path) gives the same mesh as YAML; a duplicated key is still an error', () => {
  const doc = {
    groups: [{ match: { node_id: 'a' }, clusters: [{ name: 'c1', connect_timeout: '1s' }], cluster_load_assignments: [{ cluster_name: 'c1', endpoints: [] }] }],
    default: { clusters: [{ name: 'c\"2' }] },
  };
  const fromJson = parseMesh(JSON.stringify(doc, null, 1), 'mesh.json');
  const fromYaml = parseMesh(`groups:
- match: { node_id: a }
  clusters: [{ name: c1, connect_timeout: 1s }]
  cluster_load_assignments: [{ cluster_name: c1, endpoints: [] }]
default: { clusters: [{ name: 'c"2' }] }
`, 'mesh.yaml');
  assert.equal(fromJson.digest, fromYaml.digest);
  const dup = errorsOf('{"groups": [], "default": {"clusters": [{"name": "a", "name": "b"}]}}', 'mesh.json');
  assert.equal(dup.length, 1);
  assert.match(dup[0], /duplicated mapping key/);
  // Escapes are compared decoded: "a\u0062" is "ab".
  assert.match(errorsOf('{"groups": [], "default": {"clusters": [{"ab": 1, "a\\u0062": 2}]}}', 'mesh.json')[0], /duplicated mapping key/);
  assert.match(errorsOf('{"groups": [', 'mesh.json')[0], /not valid YAML/);
});

test('mesh: a node gets the first group whose keys all match, else default', () => {
  const m = parseMesh(`groups:
- match: { node_id: a, node_cluster: x }
  clusters: [{ name: ax }]
- match: { node_cluster: x }
  clusters: [{ name: x }]
default:
  clusters: [{ name: d }]
`, 'm.yaml');
  const names = (node: { id?: string; cluster?: string }) => [...groupFor(m, node).resources.get(CDS)!.keys()];
  assert.deepEqual(names({ id: 'a', cluster: 'x' }), ['ax']);
  assert.deepEqual(names({ id: 'b', cluster: 'x' }), ['x']);
  assert.deepEqual(names({ id: 'a', cluster: 'y' }), ['d']);
  assert.deepEqual(names({}), ['d']);
});

test('store: a bad reload keeps the previous mesh; a good one bumps the generation and emits change', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-mesh-'));
  const level = log.level;
  log.setLevel('off');
  try {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'default: { clusters: [{ name: a }] }\n');
    const store = new MeshStore(file);
    let changes = 0;
    store.on('change', () => changes++);
    fs.writeFileSync(file, 'default: { clusters: [{ name: a, connect_timeout: x }] }\n');
    assert.equal(store.reload(), false);
    assert.equal(store.current.generation, 1);
    assert.ok(store.lastError?.message.includes('default.clusters[0].connect_timeout'));
    fs.writeFileSync(file, 'default:   { clusters: [{ name: a }] }\n'); // same content, new text
    assert.equal(store.reload(), false);
    assert.equal(store.lastError, undefined);
    fs.writeFileSync(file, 'default: { clusters: [{ name: a }, { name: b }] }\n');
    assert.equal(store.reload(), true);
    assert.equal(store.current.generation, 2);
    assert.equal(changes, 1);
  } finally {
    log.setLevel(level);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('status: the /status body is the snapshot as indented JSON, across reloads, reload errors and streams', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-mesh-'));
  const level = log.level;
  log.setLevel('off');
  try {
    const file = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(file, 'groups: [{ match: { node_id: n1 }, clusters: [{ name: a }] }]\ndefault: { clusters: [{ name: "q\\"uote" }] }\n');
    const server = new ManagementServer(new MeshStore(file));
    const same = (what: string) => assert.equal(server.statusJson(), JSON.stringify(server.snapshot(), null, 2) + '\n', what);
    same('no streams');
    const st = server.registry.open('sotw', '127.0.0.1:1');
    typeStatus(st, CDS).subscribed = ['*'];
    same('one stream');
    fs.writeFileSync(file, 'default: { clusters: [{ name: a, connect_timeout: x }] }\n');
    assert.equal(server.store.reload(), false);
    same('after a rejected reload (last_reload_error set)');
    assert.match(server.statusJson(), /"last_reload_error"/);
    fs.writeFileSync(file, 'default: { clusters: [{ name: a }, { name: b }] }\n');
    assert.equal(server.store.reload(), true);
    same('after a good reload');
    assert.equal(JSON.parse(server.statusJson()).mesh.generation, 2);
    server.registry.close(st);
    same('stream closed');
  } finally {
    log.setLevel(level);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- delta bookkeeping

function avail(entries: Record<string, string>): Map<string, VersionedResource> {
  return new Map(Object.entries(entries).map(([name, version]) => [name, { name, version }]));
}
const req = (subscribe: string[] = [], unsubscribe: string[] = [], initial: Record<string, string> = {}) => ({ subscribe, unsubscribe, initial });

/** diff + commit, as the stream does when it sends. */
function step(s: DeltaSubscription, a: Map<string, VersionedResource>) {
  const d = s.diff(a);
  s.commit(d, a);
  return d;
}

test('delta: legacy wildcard only for wildcard-capable types on an empty first request', () => {
  const lds = new DeltaSubscription(true);
  lds.apply(req());
  assert.equal(lds.wildcard, true);
  assert.deepEqual(step(lds, avail({ a: '1', b: '1' })), { send: ['a', 'b'], removed: [] });
  const eds = new DeltaSubscription(false);
  eds.apply(req());
  assert.equal(eds.wildcard, false);
  assert.deepEqual(step(eds, avail({ a: '1' })), { send: [], removed: [] });
  const named = new DeltaSubscription(true);
  named.apply(req(['a']));
  assert.equal(named.wildcard, false, 'a first request naming resources is not a wildcard');
  assert.deepEqual(named.subscribed(), ['a']);
});

test('delta: explicit "*" subscribes and unsubscribing it leaves the wildcard', () => {
  const s = new DeltaSubscription(false);
  s.apply(req(['*', 'x']));
  assert.deepEqual(s.subscribed(), ['*', 'x']);
  assert.deepEqual(step(s, avail({ a: '1', x: '1' })), { send: ['a', 'x'], removed: [] });
  s.apply(req([], ['*']));
  assert.deepEqual(s.subscribed(), ['x']);
  assert.deepEqual(step(s, avail({ a: '2', x: '1' })), { send: [], removed: [] }, 'a left the subscription: no update, no removal');
  assert.deepEqual([...s.known.keys()], ['x']);
});

test('delta: only changed resources are sent, and held ones that disappear are removed', () => {
  const s = new DeltaSubscription(false);
  s.apply(req(['a', 'b', 'ghost']));
  assert.deepEqual(step(s, avail({ a: '1', b: '1' })), { send: ['a', 'b'], removed: [] }, 'a missing name is neither sent nor removed');
  assert.deepEqual(step(s, avail({ a: '1', b: '1' })), { send: [], removed: [] });
  assert.deepEqual(step(s, avail({ a: '2' })), { send: ['a'], removed: ['b'] });
  assert.deepEqual(step(s, avail({ a: '2' })), { send: [], removed: [] }, 'a removal is sent once');
  assert.deepEqual(step(s, avail({ a: '2', ghost: '1' })), { send: ['ghost'], removed: [] }, 'it appears later');
});

test('delta: a (re)subscribe is answered even if the server thinks the client has it; unsubscribe sends nothing', () => {
  const s = new DeltaSubscription(false);
  s.apply(req(['a']));
  step(s, avail({ a: '1' }));
  s.apply(req([], ['a']));
  assert.deepEqual(step(s, avail({ a: '1' })), { send: [], removed: [] });
  s.apply(req(['a']));
  assert.deepEqual(step(s, avail({ a: '1' })), { send: ['a'], removed: [] });
  s.apply(req(['a'])); // discovery.proto: "must respond with all resources listed in resource_names_subscribe"
  assert.deepEqual(s.diff(avail({ a: '1' })).send, ['a']);
});

test('delta: initial_resource_versions suppresses what the client holds and removes what is gone', () => {
  const s = new DeltaSubscription(true);
  s.apply(req(['*'], [], { a: '1', b: 'old', gone: '1' }));
  assert.deepEqual(step(s, avail({ a: '1', b: '2', c: '1' })), { send: ['b', 'c'], removed: ['gone'] });
  // initial_resource_versions only counts on the first request of a type.
  const t = new DeltaSubscription(false);
  t.apply(req(['a']));
  step(t, avail({ a: '1' }));
  t.apply(req(['a'], [], { a: '1' }));
  assert.deepEqual(t.diff(avail({ a: '1' })).send, ['a']);
});

test('debug lines name a short list of resources whole and a long one by its head and count', () => {
  assert.deepEqual(namesForLog(['a', 'b']), ['a', 'b']);
  const many = Array.from({ length: 5000 }, (_, i) => `svc-${i}`);
  const logged = namesForLog(many);
  assert.equal(logged.length, 11);
  assert.deepEqual(logged.slice(0, 10), many.slice(0, 10));
  assert.equal(logged[10], '... 4990 more');
});
