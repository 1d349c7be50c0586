// A --concurrency worker's view of active health (src/upstream/health/across_workers.ts):
// the primary's reports applied to the worker's hosts, the cluster's initialization waiting
// for a verdict on every host, reports that arrive before the cluster exists, and the
// once-per-cluster traffic report back to the primary, a removed host leaving a worker, and
// what the checking side publishes. (The whole path, primary and workers
// as processes, is test/integration/health_concurrency.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { StatsStore } from '../../src/telemetry/stats';
import { Cluster } from '../../src/upstream/cluster';
import { ACTIVE_HC_FLAGS, HealthFollowers, HealthPublishBatch, healthReport, type FollowingCluster, type HealthReport } from '../../src/upstream/health/across_workers';
import { HealthFlag, Host } from '../../src/upstream/host';
import { DnsFollowers } from '../../src/upstream/dns/across_workers';

const FAILED = HealthFlag.FAILED_ACTIVE_HC;
const PENDING = HealthFlag.PENDING_ACTIVE_HC;

/** Hosts as a cluster with active health checking makes them: failed and pending their first check. */
function newHosts(...ports: number[]): Host[] {
  return ports.map((p) => {
    const h = new Host('127.0.0.1', p, 1, 'HEALTHY', 0, undefined);
    h.healthFlags |= FAILED | PENDING;
    return h;
  });
}

function cluster(name: string, traffic = false) {
  const changed: string[] = [];
  const c: FollowingCluster & { traffic: boolean } = {
    name,
    traffic,
    hadTraffic: () => c.traffic,
    onHealthChanged: (h) => changed.push(h.key),
  };
  return { c, changed };
}

const NO_PRIMARY = { traffic: () => undefined, outliers: () => undefined };

const settled = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20))]);

test('reports set the primary-kept flags of the hosts they name; initialization waits for every host', async () => {
  const followers = new HealthFollowers(NO_PRIMARY);
  const { c, changed } = cluster('web');
  const f = followers.follow(c);
  const [h1, h2] = newHosts(8001, 8002);
  h1.healthFlags |= HealthFlag.FAILED_EDS_HEALTH; // not one the primary keeps: must survive the reports
  f.setHosts([h1, h2]);
  const init = f.initialized();
  assert.equal(await settled(init), false);

  followers.deliver({ cluster: 'web', hosts: [[h1.key, 0]], full: false });
  assert.equal(h1.healthFlags, HealthFlag.FAILED_EDS_HEALTH);
  assert.equal(h2.healthFlags & ACTIVE_HC_FLAGS, FAILED | PENDING);
  assert.deepEqual(changed, [h1.key]);
  assert.equal(await settled(init), false, 'h2 has no verdict yet');

  followers.deliver({ cluster: 'web', hosts: [[h1.key, 0], [h2.key, FAILED]], full: false });
  assert.equal(h2.healthFlags, FAILED);
  assert.deepEqual(changed, [h1.key, h2.key], 'only hosts whose flags changed are reported to the cluster');
  assert.equal(await settled(init), true);
  f.stop();
});

test('a report that comes before the cluster is applied when its hosts are set, without callbacks', () => {
  const followers = new HealthFollowers(NO_PRIMARY);
  const [h1, h2] = newHosts(8001, 8002);
  followers.deliver({ cluster: 'api', hosts: [[h1.key, HealthFlag.DEGRADED_ACTIVE_HC]], full: false });
  const { c, changed } = cluster('api');
  const f = followers.follow(c);
  f.setHosts([h1, h2]);
  assert.equal(h1.healthFlags, HealthFlag.DEGRADED_ACTIVE_HC);
  assert.equal(h2.healthFlags, FAILED | PENDING, 'a host the primary has not reported keeps waiting');
  assert.deepEqual(changed, [], 'setting hosts is the cluster rebuilding already');
  f.stop();
});

test('a replaced follower (a CDS update) gets nothing more', () => {
  const followers = new HealthFollowers(NO_PRIMARY);
  const first = cluster('svc');
  const f1 = followers.follow(first.c);
  const [h] = newHosts(9000);
  f1.setHosts([h]);
  followers.deliver({ cluster: 'svc', hosts: [[h.key, 0]], full: false });
  assert.deepEqual(first.changed, [h.key]);

  // A CDS update: a new cluster of the same name follows; the old one stops.
  const second = cluster('svc');
  const f2 = followers.follow(second.c);
  f2.setHosts(newHosts(9000));
  f1.stop();
  followers.deliver({ cluster: 'svc', hosts: [[h.key, FAILED]], full: false });
  assert.deepEqual(first.changed, [h.key], 'the stopped follower was not told again');
  assert.deepEqual(second.changed, [h.key]);
  f2.stop();
});

test('a full report lists every host with the flags the primary keeps (active HC, outlier ejection) only', () => {
  const [h1, h2, h3] = newHosts(1, 2, 3);
  h1.healthFlags = FAILED | HealthFlag.FAILED_EDS_HEALTH;
  h3.healthFlags = HealthFlag.FAILED_OUTLIER_CHECK | HealthFlag.DEGRADED_EDS_HEALTH;
  assert.deepEqual(healthReport('c', [h1, h2, h3]), { cluster: 'c', hosts: [[h1.key, FAILED], [h2.key, FAILED | PENDING], [h3.key, HealthFlag.FAILED_OUTLIER_CHECK]], full: true });
});

test('traffic on a followed cluster is reported to the primary once per cluster name', async () => {
  const sent: string[] = [];
  const followers = new HealthFollowers({ traffic: (name) => sent.push(name), outliers: () => undefined });
  const quiet = cluster('quiet');
  const busy = cluster('busy');
  const fq = followers.follow(quiet.c);
  const fb = followers.follow(busy.c);
  busy.c.traffic = true;
  await new Promise((r) => setTimeout(r, 1_200));
  assert.deepEqual(sent, ['busy']);
  // The same name again (a CDS update): already reported.
  fb.stop();
  const again = cluster('busy', true);
  const fa = followers.follow(again.c);
  quiet.c.traffic = true;
  await new Promise((r) => setTimeout(r, 1_200));
  assert.deepEqual(sent, ['busy', 'quiet']);
  fq.stop();
  fa.stop();
});

test('STATIC, EDS and DNS clusters are checked by the primary for the workers', () => {
  const yaml = (type: string) => `
static_resources:
  clusters:
  - name: c_${type.toLowerCase()}
    type: ${type}
    connect_timeout: 1s
    dns_refresh_rate: 60s
    health_checks: [{ timeout: 1s, interval: 60s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }]
    load_assignment:
      cluster_name: c
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9 } } } }] }]`;
  const types = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS'];
  const followers = new HealthFollowers(NO_PRIMARY);
  // A worker's clusters: DNS ones take the primary's answers (dns/across_workers.ts), so their hosts are the primary's too.
  const made = types.map((t) => {
    const cfg = decodeBootstrap(parseConfigText(yaml(t), 'b.yaml'), 'b.yaml').clusters[0];
    return new Cluster(cfg, new StatsStore(), false, undefined, { followers, dnsFollowers: new DnsFollowers() });
  });
  assert.deepEqual(['c_static', 'c_strict_dns', 'c_logical_dns'].map((n) => followers.isFollowing(n)), [true, true, true]);
  assert.deepEqual(made.map((c) => c.stateShared), [true, true, true]);
  for (const c of made) c.destroy();
  // Without the primary's DNS answers (a cluster that resolves for itself) a worker checks a DNS cluster itself.
  const own = new Cluster(decodeBootstrap(parseConfigText(yaml('STRICT_DNS'), 'b.yaml'), 'b.yaml').clusters[0], new StatsStore(), false, undefined, { followers: new HealthFollowers(NO_PRIMARY) });
  assert.equal(own.stateShared, false);
  own.destroy();
  // The primary's side: it checks every one of them for the workers.
  const publisher = { publish: () => undefined, hadTraffic: () => false };
  const primary = types.map((t) => {
    const cfg = decodeBootstrap(parseConfigText(yaml(t), 'b.yaml'), 'b.yaml').clusters[0];
    return new Cluster(cfg, new StatsStore(), false, undefined, { publisher, dnsPublisher: { publish: () => undefined } });
  });
  assert.deepEqual(primary.map((c) => c.stateShared), [true, true, true]);
  assert.notEqual(primary[1].sharedStateReport(), null);
  for (const c of primary) c.destroy();
});

/** A STATIC cluster `name` with TCP health checks every 0.1 s on `ports` (127.0.0.1). */
function checkedCluster(name: string, ports: number[], shared: ConstructorParameters<typeof Cluster>[4]): Cluster {
  const eps = ports.map((p) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } } }`).join(', ');
  const cfg = decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    health_checks: [{ timeout: 1s, interval: 0.1s, no_traffic_interval: 0.1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }]
    load_assignment:
      cluster_name: ${name}
      endpoints: [{ lb_endpoints: [${eps}] }]`, 'b.yaml'), 'b.yaml').clusters[0];
  return new Cluster(cfg, new StatsStore(), false, undefined, shared);
}

test('a host removed while passing its checks leaves the worker when the primary reports it failed', () => {
  const followers = new HealthFollowers(NO_PRIMARY);
  const c = checkedCluster('gone', [7001, 7002], { followers });
  const [a, b] = c.hosts;
  followers.deliver({ cluster: 'gone', hosts: [[a.key, 0], [b.key, 0]], full: false });
  c.setHosts([new Host('127.0.0.1', 7001, 1, 'HEALTHY', 0, undefined)]); // b is no longer in the assignment
  assert.deepEqual(c.hosts.map((h) => [h.key, h.healthFlags]), [[a.key, 0], [b.key, HealthFlag.PENDING_DYNAMIC_REMOVAL]]);
  followers.deliver({ cluster: 'gone', hosts: [[a.key, 0], [b.key, FAILED]], full: false });
  assert.deepEqual(c.hosts.map((h) => h.key), [a.key]);
  c.destroy();
});

test('the checking side publishes a failing host awaiting removal before it removes it', async () => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const live = (server.address() as net.AddressInfo).port;
  const reports: HealthReport[] = [];
  const c = checkedCluster('pub', [live], { publisher: { publish: (r) => reports.push(r), hadTraffic: () => false } });
  try {
    await c.initialized();
    await new Promise((r) => setImmediate(r)); // changes go out at the end of the loop's turn
    const h = c.hosts[0];
    assert.deepEqual(reports.at(-1), { cluster: 'pub', hosts: [[h.key, 0]], full: false }, 'the first pass is published');
    c.setHosts([]); // removed from the assignment while it passes: kept, pending removal
    assert.equal(c.hosts.length, 1);
    assert.deepEqual(reports.at(-1), { cluster: 'pub', hosts: [[h.key, 0]], full: true }, 'a new host list goes out whole');
    await new Promise<void>((r) => server.close(() => r())); // now its checks fail
    for (let i = 0; i < 50 && c.hosts.length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.hosts.length, 0, 'removed once it failed');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(reports.at(-1)?.hosts, [[h.key, FAILED]], 'the workers were told it failed, so they remove it too');
  } finally {
    c.destroy();
    server.close();
  }
});

test('deltas add up, a full report replaces; the checking side sends one delta per turn of the loop', async () => {
  const followers = new HealthFollowers(NO_PRIMARY);
  const [h1, h2] = newHosts(8101, 8102);
  followers.deliver({ cluster: 'd', hosts: [[h1.key, 0]], full: false });
  followers.deliver({ cluster: 'd', hosts: [[h2.key, HealthFlag.DEGRADED_ACTIVE_HC]], full: false });
  const f = followers.follow(cluster('d').c);
  f.setHosts([h1, h2]);
  assert.deepEqual([h1.healthFlags, h2.healthFlags], [0, HealthFlag.DEGRADED_ACTIVE_HC]);
  f.stop();
  followers.deliver({ cluster: 'd', hosts: [[h1.key, FAILED]], full: true });
  const [n1, n2] = newHosts(8101, 8102);
  const g = followers.follow(cluster('d').c);
  g.setHosts([n1, n2]);
  assert.deepEqual([n1.healthFlags, n2.healthFlags], [FAILED, FAILED | PENDING], 'the full report dropped what came before');
  g.stop();

  const sent: HealthReport[] = [];
  const batch = new HealthPublishBatch('d', { publish: (r) => sent.push(r), hadTraffic: () => false });
  const [p1, p2] = newHosts(8201, 8202);
  p1.healthFlags = 0;
  batch.changed(p1);
  batch.changed(p2);
  p1.healthFlags = FAILED; // later changes in the same turn are noted again before it ends
  batch.changed(p1);
  assert.equal(sent.length, 0, 'nothing goes out before the turn ends');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [{ cluster: 'd', hosts: [[p1.key, FAILED], [p2.key, FAILED | PENDING]], full: false }]);
});
