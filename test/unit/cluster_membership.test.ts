// A cluster's membership_change counts changes of its host set, as Envoy's does: an EDS
// update (every SotW push resends every assignment) that names the same hosts is no change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { StatsStore } from '../../src/telemetry/stats';
import { Cluster } from '../../src/upstream/cluster';

test('membership_change counts hosts added or removed, not the same hosts sent again', () => {
  const cfg = decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: web
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: web
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9001 } } } }] }]`, 'b.yaml'), 'b.yaml').clusters[0];
  const store = new StatsStore();
  const c = new Cluster(cfg, store, false);
  const changes = () => store.snapshot().find((s) => s.name === 'cluster.web.membership_change')?.value;
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
