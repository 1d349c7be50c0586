// Outlier detection across --concurrency workers (src/upstream/outlier/across_workers.ts), in
// one process: two worker-side clusters forward what the router reports to a primary-side
// cluster, whose detector ejects on the errors of both, and whose report carries the ejection
// back to both. (The processes themselves: test/integration/health_concurrency.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { StatsStore } from '../../src/telemetry/stats';
import { Cluster } from '../../src/upstream/cluster';
import { HealthFollowers, type HealthReport } from '../../src/upstream/health/across_workers';
import { HealthFlag } from '../../src/upstream/host';
import { FLUSH_MS, OutlierForwarder, replayOutlierEvents, type OutlierEvents } from '../../src/upstream/outlier/across_workers';
import { OutlierResult } from '../../src/upstream/outlier/host_monitor';
import { reportHttpOutcome } from '../../src/upstream/outlier/report';

const config = () =>
  decodeBootstrap(parseConfigText(`
static_resources:
  clusters:
  - name: od
    type: STATIC
    connect_timeout: 1s
    outlier_detection: { consecutive_5xx: 4, interval: 10s, base_ejection_time: 60s, max_ejection_percent: 100 }
    load_assignment:
      cluster_name: od
      endpoints: [{ lb_endpoints: [
        { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9101 } } } },
        { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9102 } } } } ] }]`, 'b.yaml'), 'b.yaml').clusters[0];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("one host's errors in two workers add up to one ejection in the primary, which both workers apply", async () => {
  const reports: HealthReport[] = [];
  const primaryStore = new StatsStore();
  const primary = new Cluster(config(), primaryStore, false, undefined, { publisher: { publish: (r) => reports.push(r), hadTraffic: () => true } });
  const toPrimary = { traffic: () => undefined, outliers: (_c: string, ev: OutlierEvents) => primary.replayOutliers(ev) };
  const followers = [new HealthFollowers(toPrimary), new HealthFollowers(toPrimary)];
  const workers = followers.map((f) => new Cluster(config(), new StatsStore(), false, undefined, { followers: f }));
  try {
    for (const w of workers) assert.equal(w.outlierDetector, null, 'a worker runs no detector of its own');
    // Two 5xx from each worker: no worker alone reaches consecutive_5xx (4); together they do.
    for (const w of workers) {
      reportHttpOutcome(w.hosts[0], 503, '');
      reportHttpOutcome(w.hosts[0], 500, '');
      reportHttpOutcome(w.hosts[1], 200, ''); // the other host's successes do not reset this one's count
    }
    await sleep(FLUSH_MS + 50);
    const bad = primary.hosts[0];
    assert.ok(bad.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK, 'the primary ejected the host');
    const stats = new Map(primaryStore.snapshot().map((x) => [x.name, x.value]));
    assert.equal(stats.get('cluster.od.outlier_detection.ejections_enforced_consecutive_5xx'), 1);
    await new Promise((r) => setImmediate(r)); // the change goes out at the end of the turn
    const last = reports.at(-1)!;
    assert.deepEqual(last, { cluster: 'od', hosts: [[bad.key, HealthFlag.FAILED_OUTLIER_CHECK]], full: false });
    followers.forEach((f) => f.deliver(last));
    for (const w of workers) {
      assert.equal(w.hosts[0].healthFlags, HealthFlag.FAILED_OUTLIER_CHECK);
      assert.equal(w.hosts[1].healthFlags, 0);
      // The picker skips the ejected host now.
      for (let i = 0; i < 4; i++) assert.equal(w.pick(null)?.key, w.hosts[1].key);
    }
  } finally {
    for (const c of [primary, ...workers]) c.destroy();
  }
});

test('results keep their order and kind through the forwarder', () => {
  const sent: OutlierEvents[] = [];
  const f = new OutlierForwarder('c', (_c, ev) => sent.push(ev));
  const cfg = config();
  const local = new Cluster(cfg, new StatsStore());
  const hosts = local.hosts;
  f.setHosts(hosts);
  hosts[0].outlier!.putHttpResponseCode(502);
  hosts[0].outlier!.putResult(OutlierResult.LocalOriginTimeout, 504);
  hosts[1].outlier!.putResult(OutlierResult.LocalOriginConnectFailed);
  f.flush();
  assert.deepEqual(sent, [[[hosts[0].key, [502, -1 - OutlierResult.LocalOriginTimeout, 504]], [hosts[1].key, [-1 - OutlierResult.LocalOriginConnectFailed, 0]]]]);
  // Replayed into real monitors: what the hosts' own monitors would have seen.
  const target = new Cluster(config(), new StatsStore());
  const seen: string[] = [];
  for (const h of target.hosts) {
    const key = h.key;
    h.outlier = {
      putHttpResponseCode: (code) => seen.push(`${key} ${code}`),
      putResult: (r, code = 0) => seen.push(`${key} r${r}/${code}`),
    };
  }
  replayOutlierEvents(target.hosts, sent[0]);
  assert.deepEqual(seen, [`${hosts[0].key} 502`, `${hosts[0].key} r${OutlierResult.LocalOriginTimeout}/504`, `${hosts[1].key} r${OutlierResult.LocalOriginConnectFailed}/0`]);
  local.destroy();
  target.destroy();
});
