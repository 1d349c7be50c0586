// Resilience config and decisions at the unit level: retry_policy and circuit_breakers decode
// through the bootstrap (Envoy's proto JSON), the timeouts a request runs under, and the
// retry decisions and back-off. End-to-end behaviour is in test/integration/resilience.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap } from '../../src/config/bootstrap';
import { ConfigError } from '../../src/config/issues';
import { computeRouterTimeouts } from '../../src/filters/network/http_connection_manager/router_timeouts';
import { RetryState } from '../../src/filters/network/http_connection_manager/retry_state';
import { parseGrpcTimeout } from '../../src/http/grpc';
import { HeaderMap } from '../../src/http/headers';
import type { HcmConfig } from '../../src/filters/network/http_connection_manager/config';
import type { RouteAction } from '../../src/routing/types';
import { StatsStore } from '../../src/telemetry/stats';
import { ClusterResources } from '../../src/upstream/circuit_breakers';
import { ClusterStats } from '../../src/upstream/cluster_stats';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
function withRoutes(vhost: object) {
  return {
    static_resources: {
      listeners: [{
        name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
        filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
          '@type': HCM, stat_prefix: 's',
          route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], ...vhost }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      }],
    },
  };
}
function actions(vhost: object): RouteAction[] {
  const b = decodeBootstrap(withRoutes(vhost), 't');
  const hcm = b.listeners[0].filterChains[0].filters[0].config as HcmConfig;
  return hcm.routeTable!.virtualHosts[0].routes.map((r) => r.action as RouteAction);
}

test('retry_policy: decoded with Envoy defaults; the route policy replaces the virtual host one', () => {
  const [withOwn, inherits] = actions({
    retry_policy: { retry_on: 'reset', num_retries: 4 },
    routes: [
      { match: { prefix: '/a' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx,unavailable', retriable_status_codes: [418], per_try_timeout: '0.25s' } } },
      { match: { prefix: '/' }, route: { cluster: 'c' } },
    ],
  });
  const p = withOwn.retryPolicy!;
  assert.equal(p.numRetries, 1);
  assert.equal(p.perTryTimeoutMs, 250);
  assert.deepEqual([p.backOffBaseMs, p.backOffMaxMs], [25, 250]);
  assert.deepEqual(p.retriableStatusCodes, [418]);
  assert.equal(p.hostSelectionMaxAttempts, 1);
  assert.equal(inherits.retryPolicy!.numRetries, 4);
  assert.equal(withOwn.timeoutMs, 15000);
  assert.equal(withOwn.priority, 'DEFAULT');
});

test('retry_policy and route timeouts: unsupported and invalid settings are errors naming the field', () => {
  const errs = issuesOf(() => actions({
    routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: {
      retry_on: '5xx,bogus', per_try_idle_timeout: '1s', retry_back_off: { base_interval: '1s', max_interval: '0.5s' },
      retry_host_predicate: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate' } }],
    } } }],
  }));
  const p = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.retry_policy';
  assert.ok(errs.includes(`${p}.retry_on: unknown retry_on value "bogus"`), errs.join('\n'));
  assert.ok(errs.includes(`${p}.per_try_idle_timeout: not supported by switchyard`), errs.join('\n'));
  assert.ok(errs.includes(`${p}.retry_back_off.max_interval: must be greater than or equal to base_interval`), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith(`${p}.retry_host_predicate[0].typed_config: retry host predicate`)), errs.join('\n'));
});

test('circuit_breakers: per priority, first threshold of a priority wins, defaults elsewhere; gauges follow counts', () => {
  const b = decodeBootstrap({ static_resources: { clusters: [{ name: 'c', circuit_breakers: { thresholds: [
    { max_connections: 2, max_requests: 7, track_remaining: true },
    { priority: 'HIGH', retry_budget: { budget_percent: { value: 50 }, min_retry_concurrency: 1 } },
    { max_connections: 99 },
  ] } }] } }, 't');
  const cb = b.clusters[0].circuitBreakers;
  assert.equal(cb.default.maxConnections, 2);
  assert.equal(cb.default.maxPendingRequests, 1024);
  assert.equal(cb.default.maxRetries, 3);
  assert.deepEqual(cb.high.retryBudget, { budgetPercent: 50, minRetryConcurrency: 1 });
  const store = new StatsStore();
  const r = new ClusterResources(cb, store, 'c');
  const g = (n: string) => store.gauge(`cluster.c.circuit_breakers.${n}`).value;
  assert.equal(g('default.remaining_cx'), 2);
  r.default.connections.inc();
  r.default.connections.inc();
  assert.equal(r.default.connections.canCreate(), false);
  assert.deepEqual([g('default.cx_open'), g('default.remaining_cx')], [1, 0]);
  // Retry budget: max(min_retry_concurrency, 50% of active + pending requests).
  assert.equal(r.high.retries.limit, 1);
  for (let i = 0; i < 6; i++) r.high.requests.inc();
  assert.equal(r.high.retries.limit, 3);
  assert.deepEqual(issuesOf(() => decodeBootstrap({ static_resources: { clusters: [{ name: 'c', circuit_breakers: { thresholds: [{ max_connection_pools: 3 }] } }] } }, 't')), [
    'static_resources.clusters[0].circuit_breakers.thresholds[0].max_connection_pools: not supported by switchyard',
  ]);
});

test('grpc-timeout parsing and the timeouts a request runs under', () => {
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('3S'), 3000);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('2H'), 7_200_000);
  assert.equal(parseGrpcTimeout('123456789S'), undefined);
  assert.equal(parseGrpcTimeout('10x'), undefined);

  const [legacy, capped, plain] = actions({
    routes: [
      { match: { prefix: '/legacy' }, route: { cluster: 'c', max_grpc_timeout: '2s', grpc_timeout_offset: '0.1s' } },
      { match: { prefix: '/capped' }, route: { cluster: 'c', max_stream_duration: { grpc_timeout_header_max: '1s', grpc_timeout_header_offset: '0.05s' } } },
      { match: { prefix: '/' }, route: { cluster: 'c', timeout: '3s', retry_policy: { retry_on: '5xx', per_try_timeout: '5s' } } },
    ],
  });
  const grpcHeaders = (t?: string) => {
    const h = new HeaderMap();
    h.add('content-type', 'application/grpc');
    if (t !== undefined) h.add('grpc-timeout', t);
    return h;
  };
  // max_grpc_timeout: the header less the offset, capped; no header means the cap.
  assert.equal(computeRouterTimeouts(legacy, grpcHeaders('500m'), false, 0).timeoutMs, 400);
  assert.equal(computeRouterTimeouts(legacy, grpcHeaders('10S'), false, 0).timeoutMs, 2000);
  assert.equal(computeRouterTimeouts(legacy, grpcHeaders(), false, 0).timeoutMs, 2000);
  // grpc_timeout_header_max: the stream's duration, capped, less the offset.
  const c = computeRouterTimeouts(capped, grpcHeaders('10S'), false, 0);
  assert.deepEqual([c.timeoutMs, c.durationMs], [15000, 950]);
  // A per-try timeout not shorter than the route timeout is dropped; trusted headers override.
  const p = computeRouterTimeouts(plain, new HeaderMap(), false, 7000);
  assert.deepEqual([p.timeoutMs, p.perTryMs, p.durationMs, p.perRequest], [3000, 0, 7000, false]);
  const h = new HeaderMap();
  h.add('x-envoy-upstream-rq-timeout-ms', '9000');
  h.add('x-envoy-upstream-rq-per-try-timeout-ms', '100');
  const t = computeRouterTimeouts(plain, h, true, 0);
  assert.deepEqual([t.timeoutMs, t.perTryMs, t.perRequest], [9000, 100, true]);
  assert.equal(h.has('x-envoy-upstream-rq-timeout-ms'), false);
});

test('retry decisions: retry_on against statuses, resets and grpc-status; limits; back-off bounds', () => {
  const [a] = actions({
    routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: {
      retry_on: 'gateway-error,refused-stream,retriable-status-codes,cancelled', num_retries: 2, retriable_status_codes: [429],
      retry_back_off: { base_interval: '0.01s', max_interval: '0.03s' },
    } } }],
  });
  const p = a.retryPolicy!;
  const rs = new RetryState(p.retryOn, p.numRetries, p);
  const h = (pairs: [string, string][] = []) => {
    const m = new HeaderMap();
    for (const [k, v] of pairs) m.add(k, v);
    return m;
  };
  assert.equal(rs.wouldRetryResponse(503, h()), true);
  assert.equal(rs.wouldRetryResponse(500, h()), false);
  assert.equal(rs.wouldRetryResponse(429, h()), true);
  assert.equal(rs.wouldRetryResponse(503, h([['x-envoy-overloaded', 'true']])), false);
  assert.equal(rs.wouldRetryResponse(200, h([['grpc-status', '1']])), true);
  assert.equal(rs.wouldRetryResponse(200, h([['grpc-status', '14']])), false);
  assert.equal(rs.wouldRetryReset('remote_reset'), true); // gateway-error counts resets
  assert.equal(rs.wouldRetryReset('overflow'), false);
  const store = new StatsStore();
  const stats = new ClusterStats(store, 'c');
  const res = new ClusterResources({ default: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1, trackRemaining: false }, high: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1, trackRemaining: false } }, store, 'c');
  assert.equal(rs.shouldRetry(true, res.default, stats), 'retry');
  assert.equal(res.default.retries.count, 1);
  // A second request's retry while the first one's is outstanding: max_retries 1 overflows.
  const other = new RetryState(p.retryOn, p.numRetries, p);
  assert.equal(other.shouldRetry(true, res.default, stats), 'overflow');
  assert.equal(rs.shouldRetry(true, res.default, stats), 'retry');
  assert.equal(rs.shouldRetry(true, res.default, stats), 'limit_exceeded');
  assert.equal(res.default.retries.count, 0);
  assert.deepEqual([stats.upstream_rq_retry.value, stats.upstream_rq_retry_overflow.value, stats.upstream_rq_retry_limit_exceeded.value], [2, 1, 1]);
  // Full jitter in [0, interval), the interval doubling from base to max.
  const b = new RetryState(p.retryOn, 10, p);
  const waits = Array.from({ length: 6 }, () => b.backOffMs());
  assert.ok(waits[0] < 10 && waits[1] < 20 && waits.slice(2).every((w) => w < 30), waits.join(','));
});
