// A cluster's host set under updates, as Envoy keeps it: membership_change counts changes (an
// EDS update that names the same hosts again, as every SotW push does, is none), and a host
// moved to another priority or locality is moved, keeping its host object and stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { StatsStore } from '../../src/telemetry/stats';
import { Cluster } from '../../src/upstream/cluster';

/** A STATIC cluster `web` whose load_assignment has `endpoints` (YAML under `endpoints:`), its stats store and its membership_change. */
function webCluster(endpoints: string) {
  const cfg = decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: web
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: web
      endpoints:${endpoints}`, 'b.yaml'), 'b.yaml').clusters[0];
  const store = new StatsStore();
  const c = new Cluster(cfg, store, false);
  const changes = () => store.snapshot().find((s) => s.name === 'cluster.web.membership_change')?.value;
  return { cfg, c, changes };
}

const endpoint = (port: number) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }`;

test('membership_change counts hosts added or removed, not the same hosts sent again', () => {
  const { cfg, c, changes } = webCluster(` [{ lb_endpoints: [${endpoint(9001)}] }]`);
  assert.equal(changes(), 1, 'the first hosts');
  // The configured locality with its endpoint on these ports instead.
  const [l] = cfg.localities;
  const loc = (...ports: number[]) => [{ ...l, endpoints: ports.map((port) => ({ ...l.endpoints[0], address: { ...l.endpoints[0].address, port } })) }];
  c.setEndpoints(loc(9001));
  assert.equal(changes(), 1, 'the same host again');
  c.setEndpoints(loc(9001, 9002));
  assert.equal(changes(), 2, 'a host added');
  c.setEndpoints(loc(9002));
  assert.equal(changes(), 3, 'a host removed');
  c.setEndpoints(loc(9003));
  assert.equal(changes(), 4, 'one host for another');
  assert.deepEqual(c.hosts.map((h) => h.key), ['127.0.0.1:9003']);
  c.destroy();
});

test('an update that moves a host to another priority or locality moves it (the host object and its stats stay)', () => {
  const { cfg, c, changes } = webCluster(`
      - { priority: 0, locality: { zone: a }, lb_endpoints: [${endpoint(9001)}] }
      - { priority: 1, locality: { zone: b }, lb_endpoints: [${endpoint(9002)}] }`);
  const picks = () => new Set(Array.from({ length: 10 }, () => c.pick(null)?.key));
  assert.deepEqual(picks(), new Set(['127.0.0.1:9001']), 'priority 0 takes everything');
  const first = c.hosts.find((h) => h.port === 9001)!;
  first.stats.rq_total = 7;
  // The two swap priorities (and zones).
  const [p0, p1] = cfg.localities;
  c.setEndpoints([{ ...p0, priority: 1, locality: { zone: 'b' } }, { ...p1, priority: 0, locality: { zone: 'a' } }]);
  assert.deepEqual(picks(), new Set(['127.0.0.1:9002']), 'the host now at priority 0 takes everything');
  const moved = c.hosts.find((h) => h.port === 9001)!;
  assert.equal(moved, first, 'the same host object');
  assert.equal(moved.stats.rq_total, 7);
  assert.deepEqual([moved.priority, moved.locality?.zone], [1, 'b']);
  assert.equal(changes(), 2, 'a move between priorities is a membership change');
  c.destroy();
});

test('an update naming the same hosts rebuilds nothing: update_no_rebuild, and the round robin keeps its place', () => {
  const { cfg, c, changes } = webCluster(` [{ lb_endpoints: [${[9001, 9002, 9003].map(endpoint).join(', ')}] }]`);
  const noRebuild = () => c.stats.update_no_rebuild.value;
  const order = Array.from({ length: 3 }, () => c.pick(null)!.port);
  assert.deepEqual([...order].sort(), [9001, 9002, 9003]);
  // A rebuilt round robin starts at a random host: six updates in a row keep the cycle only
  // if none of them rebuilt it (a rebuild would keep it by chance one time in three each).
  for (let i = 0; i < 6; i++) {
    c.setEndpoints(cfg.localities);
    assert.equal(c.pick(null)!.port, order[i % 3], `pick after update ${i + 1}`);
  }
  assert.equal(noRebuild(), 6);
  assert.equal(changes(), 1, 'only the first hosts were a membership change');
  // A changed weight is a change: rebuilt, not counted as no-rebuild.
  const [l] = cfg.localities;
  c.setEndpoints([{ ...l, endpoints: l.endpoints.map((e, i) => (i === 0 ? { ...e, weight: 5 } : e)) }]);
  assert.equal(noRebuild(), 6);
  c.destroy();
});
