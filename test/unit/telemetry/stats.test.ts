// The stats store: a stat made through a scope and the same name made in full are one
// instrument, whichever comes first, and the listing is the same as without scopes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../../src/telemetry/stats';
import { ClusterStats } from '../../../src/upstream/cluster_stats';

test('a scoped stat and its full name are the same instrument, in either order', () => {
  const s = new StatsStore();
  const early = s.counter('cluster.a.upstream_rq_total');
  early.inc(2);
  const scope = s.scope('cluster.a.');
  assert.equal(scope.counter('upstream_rq_total'), early);
  assert.equal(s.scope('cluster.a.'), scope);
  const g = s.scope('cluster.b.').gauge('membership_total');
  g.set(4);
  assert.equal(s.gauge('cluster.b.membership_total'), g);
  assert.equal(s.counter('cluster.b.upstream_rq_total'), s.scope('cluster.b.').counter('upstream_rq_total'));
  assert.throws(() => s.scope('cluster.c'), /must end with '\.'/);
});

test('snapshot lists scoped and unscoped stats sorted by name, once each', () => {
  const s = new StatsStore();
  s.counter('listener.127.0.0.1_80.downstream_cx_total').inc();
  s.scope('cluster.b.').counter('upstream_rq_total').inc(3);
  s.counter('cluster.a.upstream_rq_total').inc(1);
  s.scope('cluster.a.').gauge('membership_total').set(2);
  s.counter('cluster.b.upstream_rq_total').inc(); // the scoped one
  assert.deepEqual(s.snapshot(), [
    { name: 'cluster.a.membership_total', value: 2, kind: 'gauge' },
    { name: 'cluster.a.upstream_rq_total', value: 1, kind: 'counter' },
    { name: 'cluster.b.upstream_rq_total', value: 4, kind: 'counter' },
    { name: 'listener.127.0.0.1_80.downstream_cx_total', value: 1, kind: 'counter' },
  ]);
  s.removePrefix('cluster.a.');
  s.removePrefix('cluster.b.upstream_');
  assert.deepEqual(s.snapshot().map((x) => x.name), ['listener.127.0.0.1_80.downstream_cx_total']);
});

test('a replaced cluster keeps its counters; names are cluster.<name>.*', () => {
  const s = new StatsStore();
  const one = new ClusterStats(s, 'svc');
  one.upstream_rq_total.inc(5);
  one.status(503);
  const two = new ClusterStats(s, 'svc');
  assert.equal(two.upstream_rq_total.value, 5);
  assert.equal(two.upstream_rq_5xx, one.upstream_rq_5xx);
  const names = s.snapshot().map((x) => x.name);
  assert.ok(names.includes('cluster.svc.upstream_rq_5xx'));
  assert.ok(names.every((n) => n.startsWith('cluster.svc.')));
  assert.equal(new Set(names).size, names.length);
});
