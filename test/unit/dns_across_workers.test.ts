// DNS clusters with --concurrency (src/upstream/dns/across_workers.ts): the primary's cluster
// resolves and publishes each new answer; a worker's cluster resolves nothing and builds its
// hosts from the primary's answers, only from answers for the endpoints it has, and counts a
// membership change only when the answer changes. And a cluster replaced by a CDS update
// starts from the answer of the one it replaces. (The whole path, primary and workers as
// processes behind a real resolver, is test/integration/dns_concurrency.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { StatsStore } from '../../src/telemetry/stats';
import { Cluster, type SharedState } from '../../src/upstream/cluster';
import { DnsFollowers, type DnsReport } from '../../src/upstream/dns/across_workers';

function dnsCluster(type: 'STRICT_DNS' | 'LOGICAL_DNS', names: string[], shared: SharedState, store = new StatsStore(), previous?: Cluster): Cluster {
  const eps = names.map((n) => `{ endpoint: { address: { socket_address: { address: ${n}, port_value: 9 } } } }`).join(', ');
  const cfg = decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: web
    type: ${type}
    connect_timeout: 1s
    dns_lookup_family: V4_ONLY
    dns_refresh_rate: 0.05s
    load_assignment:
      cluster_name: web
      endpoints: [{ lb_endpoints: [${eps}] }]`, 'b.yaml'), 'b.yaml').clusters[0];
  return new Cluster(cfg, store, false, previous, shared);
}

const keys = (c: Cluster) => c.hosts.map((h) => h.key);

/** Waits (at most 2 s, polling) until `done()` holds: a lookup through the system resolver. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
}

test("a worker's DNS cluster takes its hosts from the primary's answers, only those for its endpoints", () => {
  const followers = new DnsFollowers();
  // An answer that comes before the cluster exists is taken when it is made.
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.1', '10.0.0.2']], ['b.test:9', ['10.0.0.3']]] });
  const store = new StatsStore();
  const c = dnsCluster('STRICT_DNS', ['a.test', 'b.test'], { dnsFollowers: followers }, store);
  assert.deepEqual(keys(c), ['10.0.0.1:9', '10.0.0.2:9', '10.0.0.3:9']);
  assert.equal(c.hosts[2].hostname, 'b.test');
  const changes = () => store.snapshot().find((s) => s.name === 'cluster.web.membership_change')?.value;
  assert.equal(changes(), 1);
  // The same answer again: nothing changes, nothing is counted.
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.1', '10.0.0.2']], ['b.test:9', ['10.0.0.3']]] });
  assert.equal(changes(), 1);
  // Answers for other endpoints (the primary's cluster before or after a CDS update) are not this cluster's.
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.9']]] });
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.9']], ['c.test:9', ['10.0.0.8']]] });
  followers.deliver({ cluster: 'other', endpoints: [['a.test:9', ['10.0.0.7']], ['b.test:9', ['10.0.0.6']]] });
  assert.deepEqual(keys(c), ['10.0.0.1:9', '10.0.0.2:9', '10.0.0.3:9']);
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.1']], ['b.test:9', []]] });
  assert.deepEqual(keys(c), ['10.0.0.1:9']);
  assert.equal(changes(), 2);
  c.destroy();
  // A destroyed cluster follows no more; the next one made under the name gets the latest answer.
  const again = dnsCluster('STRICT_DNS', ['a.test', 'b.test'], { dnsFollowers: followers });
  assert.deepEqual(keys(again), ['10.0.0.1:9']);
  again.destroy();
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.5']], ['b.test:9', []]] });
  assert.deepEqual(keys(again), ['10.0.0.1:9']);
});

test("a DNS cluster's hosts carry their endpoint's health_check_config, like any other cluster's", () => {
  const cfg = decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: web
    type: STRICT_DNS
    connect_timeout: 1s
    load_assignment:
      cluster_name: web
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: a.test, port_value: 9 } }, health_check_config: { port_value: 9100 } } }] }]`, 'b.yaml'), 'b.yaml').clusters[0];
  const followers = new DnsFollowers();
  const c = new Cluster(cfg, new StatsStore(), false, undefined, { dnsFollowers: followers });
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.1', '10.0.0.2']]] });
  assert.deepEqual(c.hosts.map((h) => [h.key, h.hostname, h.healthCheckConfig?.portValue]), [['10.0.0.1:9', 'a.test', 9100], ['10.0.0.2:9', 'a.test', 9100]]);
  c.destroy();
});

test('LOGICAL_DNS follows the answer for its first endpoint only', () => {
  const followers = new DnsFollowers();
  const c = dnsCluster('LOGICAL_DNS', ['a.test'], { dnsFollowers: followers });
  assert.deepEqual(keys(c), []);
  followers.deliver({ cluster: 'web', endpoints: [['a.test:9', ['10.0.0.4']]] });
  assert.deepEqual(keys(c), ['10.0.0.4:9']);
  c.destroy();
});

test("the primary's DNS cluster publishes an answer when it changes, and has the last one for a worker that joins", async () => {
  const published: DnsReport[] = [];
  const c = dnsCluster('STRICT_DNS', ['localhost', '127.0.0.2'], { dnsPublisher: { publish: (r) => published.push(r) } });
  await until(() => published.length > 0);
  const expected = { cluster: 'web', endpoints: [['localhost:9', ['127.0.0.1']], ['127.0.0.2:9', ['127.0.0.2']]] };
  assert.deepEqual(published[0], expected);
  assert.deepEqual(keys(c), ['127.0.0.1:9', '127.0.0.2:9']);
  assert.deepEqual(c.dnsReport(), expected);
  // Refreshes every 50 ms find the same answer: nothing more is published.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(published.length, 1);
  c.destroy();
});

test('a DNS cluster replaced by a CDS update starts from the answer of the one it replaces, if that answers its endpoints', async () => {
  const old = dnsCluster('STRICT_DNS', ['localhost', '127.0.0.2'], {});
  await until(() => old.hosts.length > 0);
  assert.deepEqual(keys(old), ['127.0.0.1:9', '127.0.0.2:9']);
  // Same endpoints (another field changed): the hosts are there at once, before any lookup of its own.
  const same = dnsCluster('STRICT_DNS', ['localhost', '127.0.0.2'], {}, new StatsStore(), old);
  assert.deepEqual(keys(same), ['127.0.0.1:9', '127.0.0.2:9']);
  // Other endpoints: nothing is carried over; its own lookup fills it.
  const other = dnsCluster('STRICT_DNS', ['127.0.0.3'], {}, new StatsStore(), same);
  assert.deepEqual(keys(other), []);
  await until(() => other.hosts.length > 0);
  assert.deepEqual(keys(other), ['127.0.0.3:9']);
  for (const c of [old, same, other]) c.destroy();
});
