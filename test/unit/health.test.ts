// Health checking and outlier detection state machines, on their own: thresholds, the
// interval chosen after each result, payload matching, the gRPC health messages, and the
// outlier detector's ejections, ejection-time growth and success-rate math (Envoy's
// documented example). Decoding goes through the real bootstrap decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBootstrap, parseConfigText } from '../../src/config/bootstrap';
import { ConfigError } from '../../src/config/issues';
import type { HealthCheckConfig, HttpCheckConfig } from '../../src/upstream/health/config';
import { decodeServingStatus, encodeHealthCheckRequest } from '../../src/upstream/health/grpc_probe';
import { judgeHttp } from '../../src/upstream/health/http_probe';
import { payloadsMatch } from '../../src/upstream/health/probe';
import { HealthState, initialDelayMs, nextIntervalMs, Transition } from '../../src/upstream/health/state';
import { HealthFlag, Host } from '../../src/upstream/host';
import type { OutlierConfig } from '../../src/upstream/outlier/config';
import { OutlierDetector, successRateThreshold } from '../../src/upstream/outlier/detector';
import { OutlierResult } from '../../src/upstream/outlier/host_monitor';
import { reportConnectOutcome, reportHttpOutcome } from '../../src/upstream/outlier/report';
import { StatsStore } from '../../src/telemetry/stats';

const hcCfg = (over: Partial<HealthCheckConfig> = {}): HealthCheckConfig => ({
  timeoutMs: 1000, intervalMs: 1000, initialJitterMs: 0, intervalJitterMs: 0, intervalJitterPercent: 0,
  unhealthyThreshold: 3, healthyThreshold: 2, reuseConnection: true,
  noTrafficIntervalMs: 60_000, noTrafficHealthyIntervalMs: 60_000, unhealthyIntervalMs: 1000, unhealthyEdgeIntervalMs: 1000,
  healthyEdgeIntervalMs: 1000, alwaysLogHealthCheckFailures: false, alwaysLogHealthCheckSuccess: false,
  check: { t: 'tcp', send: Buffer.alloc(0), receive: [] },
  ...over,
});
const newHost = (port = 1, flags = HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC) => {
  const h = new Host('127.0.0.1', port, 1, 'UNKNOWN', 0, undefined);
  h.healthFlags = flags;
  return h;
};

test('a new host is healthy after its first passing check, whatever healthy_threshold says', () => {
  const h = newHost();
  const s = new HealthState(hcCfg({ healthyThreshold: 5 }), h);
  assert.equal(h.healthy, false);
  assert.equal(s.onSuccess(false), Transition.Changed);
  assert.equal(h.healthy, true);
  assert.equal(h.healthFlags, 0, 'failed_active_hc and pending_active_hc are both cleared');
});

test('a first failing check keeps the host failed and ends its pending state', () => {
  const h = newHost();
  const s = new HealthState(hcCfg(), h);
  assert.equal(s.onFailure('network', true), Transition.Changed, 'pending cleared is a change the picker must see');
  assert.equal(h.healthFlags, HealthFlag.FAILED_ACTIVE_HC);
  // Now it takes healthy_threshold (2) passes.
  assert.equal(s.onSuccess(false), Transition.ChangePending);
  assert.equal(h.healthy, false);
  assert.equal(s.onSuccess(false), Transition.Changed);
  assert.equal(h.healthy, true);
});

test('network failures count towards unhealthy_threshold; a success starts the count over', () => {
  const h = newHost(1, 0);
  const s = new HealthState(hcCfg({ unhealthyThreshold: 3 }), h);
  s.firstCheck = false;
  assert.equal(s.onFailure('network', true), Transition.ChangePending);
  assert.equal(s.onFailure('network', true), Transition.ChangePending);
  assert.equal(s.onSuccess(false), Transition.Unchanged);
  assert.equal(s.onFailure('network', true), Transition.ChangePending);
  assert.equal(s.onFailure('network', true), Transition.ChangePending);
  assert.equal(h.healthy, true);
  assert.equal(s.onFailure('network', true), Transition.Changed);
  assert.equal(h.healthy, false);
  assert.equal(s.onFailure('network', true), Transition.Unchanged, 'already failed');
});

test('an active non-retriable failure fails the host at once; a retriable one counts', () => {
  const h = newHost(1, 0);
  const s = new HealthState(hcCfg({ unhealthyThreshold: 3 }), h);
  s.firstCheck = false;
  assert.equal(s.onFailure('active', true), Transition.ChangePending);
  assert.equal(h.healthy, true);
  assert.equal(s.onFailure('active', false), Transition.Changed);
  assert.equal(h.healthy, false);
});

test('degraded checks set and clear /degraded_active_hc', () => {
  const h = newHost(1, 0);
  const s = new HealthState(hcCfg(), h);
  s.firstCheck = false;
  assert.equal(s.onSuccess(true), Transition.Changed);
  assert.equal(h.coarseHealth, 1);
  assert.equal(h.healthFlagsText(), '/degraded_active_hc');
  assert.equal(s.onSuccess(true), Transition.Unchanged);
  assert.equal(s.onSuccess(false), Transition.Changed);
  assert.equal(h.coarseHealth, 0);
});

test('the next interval follows Envoy: no-traffic, edge, unhealthy and plain intervals, plus jitter', () => {
  const c = hcCfg({
    intervalMs: 1000, noTrafficIntervalMs: 60_000, noTrafficHealthyIntervalMs: 30_000, unhealthyIntervalMs: 5000,
    unhealthyEdgeIntervalMs: 700, healthyEdgeIntervalMs: 300,
  });
  const zero = () => 0;
  assert.equal(nextIntervalMs(c, true, Transition.Unchanged, false, zero), 30_000);
  assert.equal(nextIntervalMs(c, true, Transition.ChangePending, false, zero), 60_000);
  assert.equal(nextIntervalMs(c, false, Transition.Changed, false, zero), 60_000);
  assert.equal(nextIntervalMs(c, true, Transition.Unchanged, true, zero), 1000);
  assert.equal(nextIntervalMs(c, true, Transition.Changed, true, zero), 1000);
  assert.equal(nextIntervalMs(c, true, Transition.ChangePending, true, zero), 300);
  assert.equal(nextIntervalMs(c, false, Transition.ChangePending, true, zero), 700);
  assert.equal(nextIntervalMs(c, false, Transition.Unchanged, true, zero), 5000);
  // Jitter: up to interval_jitter_percent of the base, plus up to interval_jitter.
  const j = hcCfg({ intervalMs: 1000, intervalJitterPercent: 10, intervalJitterMs: 50 });
  assert.equal(nextIntervalMs(j, true, Transition.Unchanged, true, () => 0.999), 1000 + 99 + 49);
  assert.equal(nextIntervalMs(j, true, Transition.Unchanged, true, () => 0.5), 1000 + 50 + 25);
  assert.equal(initialDelayMs(hcCfg({ initialJitterMs: 200 }), () => 0.5), 100);
  assert.equal(initialDelayMs(hcCfg(), () => 0.5), 0);
});

test('payload blocks must appear in order, not necessarily contiguous', () => {
  const b = (s: string) => Buffer.from(s);
  assert.equal(payloadsMatch([b('PO'), b('NG')], b('xxPOyyNGzz')), true);
  assert.equal(payloadsMatch([b('NG'), b('PO')], b('xxPOyyNGzz')), false);
  assert.equal(payloadsMatch([b('PONG')], b('PON')), false);
  assert.equal(payloadsMatch([], b('')), true);
});

test('HTTP verdicts: expected, retriable and other statuses, degraded, body matching within response_buffer_size', () => {
  const c: HttpCheckConfig = {
    t: 'http', host: '', path: '/h', method: 'GET', expectedStatuses: [[200, 201], [204, 205]], retriableStatuses: [[503, 504]],
    headers: { requestHeadersToAdd: [], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [] },
    codec: 'http1', receive: [], responseBufferSize: 1024,
  };
  assert.deepEqual(judgeHttp(c, 200, false, Buffer.alloc(0)), { ok: true, degraded: false });
  assert.deepEqual(judgeHttp(c, 204, true, Buffer.alloc(0)), { ok: true, degraded: true });
  const r503 = judgeHttp(c, 503, false, Buffer.alloc(0));
  assert.equal(r503.ok === false && r503.retriable && r503.type === 'active', true);
  const r500 = judgeHttp(c, 500, false, Buffer.alloc(0));
  assert.equal(r500.ok === false && !r500.retriable, true);
  const withBody = { ...c, receive: [Buffer.from('ok')], responseBufferSize: 4 };
  assert.equal(judgeHttp(withBody, 200, false, Buffer.from('okay')).ok, true);
  assert.equal(judgeHttp(withBody, 200, false, Buffer.from('all ok')).ok, false, 'only the first 4 bytes are searched');
});

test('gRPC health messages: request framing and serving status', () => {
  assert.deepEqual(encodeHealthCheckRequest(''), Buffer.from([0, 0, 0, 0, 0]));
  assert.deepEqual(encodeHealthCheckRequest('svc'), Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, 0x73, 0x76, 0x63]));
  const long = encodeHealthCheckRequest('x'.repeat(200));
  assert.deepEqual([...long.subarray(0, 8)], [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01]);
  assert.equal(decodeServingStatus(Buffer.from([0x08, 0x01])), 1);
  assert.equal(decodeServingStatus(Buffer.from([0x08, 0x02])), 2);
  assert.equal(decodeServingStatus(Buffer.alloc(0)), 0);
  assert.equal(decodeServingStatus(Buffer.from([0x12, 0x01, 0x41, 0x08, 0x01])), 1, 'unknown fields are skipped');
});

// ---- outlier detection

const odCfg = (over: Partial<OutlierConfig> = {}): OutlierConfig => ({
  consecutive5xx: 5, consecutiveGatewayFailure: 5, consecutiveLocalOriginFailure: 5, intervalMs: 10_000,
  baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionTimeJitterMs: 0, maxEjectionPercent: 100,
  enforcingConsecutive5xx: 100, enforcingConsecutiveGatewayFailure: 0, enforcingConsecutiveLocalOriginFailure: 100,
  enforcingSuccessRate: 100, enforcingLocalOriginSuccessRate: 100, enforcingFailurePercentage: 0, enforcingFailurePercentageLocalOrigin: 0,
  successRateMinimumHosts: 5, successRateRequestVolume: 100, successRateStdevFactor: 1.9, failurePercentageThreshold: 85,
  failurePercentageMinimumHosts: 5, failurePercentageRequestVolume: 50, splitExternalLocalOriginErrors: false,
  successfulActiveHealthCheckUnejectHost: true, alwaysEjectOneHost: false,
  ...over,
});

function detector(over: Partial<OutlierConfig>, n: number) {
  let now = 0;
  let changes = 0;
  const store = new StatsStore();
  const d = new OutlierDetector(odCfg(over), { name: 'c', onOutlierChanged: () => changes++ }, store, () => now, () => 0, false);
  const hosts = Array.from({ length: n }, (_, i) => newHost(i + 1, 0));
  d.setHosts(hosts);
  const stat = (name: string) => store.snapshot().find((s) => s.name === `cluster.c.outlier_detection.${name}`)?.value;
  return { d, hosts, stat, advance: (ms: number) => (now += ms), changes: () => changes };
}

test('consecutive 5xx ejects; a success in between starts the count over', () => {
  const { hosts, stat } = detector({ consecutive5xx: 3 }, 2);
  const h = hosts[0];
  reportHttpOutcome(h, 500, '');
  reportHttpOutcome(h, 500, '');
  reportHttpOutcome(h, 200, '');
  reportHttpOutcome(h, 500, '');
  reportHttpOutcome(h, 500, '');
  assert.equal(h.healthy, true);
  reportHttpOutcome(h, 500, '');
  assert.equal(h.healthy, false);
  assert.equal(h.healthFlagsText(), '/failed_outlier_check');
  assert.equal(stat('ejections_active'), 1);
  assert.equal(stat('ejections_enforced_consecutive_5xx'), 1);
  assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
  assert.equal(stat('ejections_enforced_total'), 1);
});

test('without split, connect failures and timeouts count as 503 / 504: gateway failures and 5xx', () => {
  const { hosts, stat } = detector({ consecutive5xx: 10, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 }, 2);
  const h = hosts[0];
  reportHttpOutcome(h, 503, 'UF');
  reportHttpOutcome(h, 504, 'UT');
  reportHttpOutcome(h, 503, 'UO'); // overflow: never reached the host
  assert.equal(h.healthy, true);
  reportHttpOutcome(h, 0, 'UR');
  assert.equal(h.healthy, false);
  assert.equal(stat('ejections_enforced_consecutive_gateway_failure'), 1);
});

test('gateway failures are detected but not enforced by default (enforcing_consecutive_gateway_failure 0)', () => {
  const { hosts, stat } = detector({ consecutive5xx: 10, consecutiveGatewayFailure: 2 }, 2);
  reportHttpOutcome(hosts[0], 502, '');
  reportHttpOutcome(hosts[0], 502, '');
  assert.equal(hosts[0].healthy, true);
  assert.equal(stat('ejections_detected_consecutive_gateway_failure'), 1);
  assert.equal(stat('ejections_enforced_consecutive_gateway_failure'), 0);
});

test('with split_external_local_origin_errors, local-origin failures have their own counter and 5xx theirs', () => {
  const { hosts, stat } = detector({ splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 2, consecutive5xx: 2 }, 2);
  const [a, b] = hosts;
  reportConnectOutcome(a, 'failed');
  reportHttpOutcome(a, 500, ''); // a connect success resets the local-origin count
  reportConnectOutcome(a, 'timeout');
  assert.equal(a.healthy, true);
  reportConnectOutcome(a, 'failed');
  assert.equal(a.healthy, false);
  assert.equal(stat('ejections_enforced_consecutive_local_origin_failure'), 1);
  reportConnectOutcome(b, 'failed');
  reportHttpOutcome(b, 500, '');
  assert.equal(b.healthy, true, '1 local-origin failure then 1 5xx: neither counter reached 2');
  reportHttpOutcome(b, 502, '');
  assert.equal(b.healthy, false);
});

test('max_ejection_percent caps ejections (and counts the overflow); always_eject_one_host lifts it for the first', () => {
  const t = detector({ consecutive5xx: 1, maxEjectionPercent: 50 }, 4);
  for (const h of t.hosts) reportHttpOutcome(h, 500, '');
  assert.equal(t.hosts.filter((h) => !h.healthy).length, 2);
  assert.equal(t.stat('ejections_overflow'), 2);
  const small = detector({ consecutive5xx: 1, maxEjectionPercent: 10 }, 3);
  reportHttpOutcome(small.hosts[0], 500, '');
  assert.equal(small.hosts[0].healthy, true, '1 of 3 is 33% > 10%: not ejected');
  const one = detector({ consecutive5xx: 1, maxEjectionPercent: 10, alwaysEjectOneHost: true }, 3);
  reportHttpOutcome(one.hosts[0], 500, '');
  reportHttpOutcome(one.hosts[1], 500, '');
  assert.deepEqual(one.hosts.map((h) => h.healthy), [false, true, true]);
});

test('ejection time is base × times ejected, capped at max_ejection_time, and shrinks while the host behaves', () => {
  const t = detector({ consecutive5xx: 1, baseEjectionTimeMs: 10_000, maxEjectionTimeMs: 25_000, intervalMs: 1000 }, 1);
  const h = t.hosts[0];
  const m = t.d.monitors.get(h)!;
  const ejectAndTime = () => {
    reportHttpOutcome(h, 500, '');
    assert.equal(h.healthy, false);
    let waited = 0;
    for (let i = 0; i < 100 && !h.healthy; i++) {
      t.advance(1000);
      waited += 1000;
      t.d.sweep();
    }
    return waited;
  };
  assert.equal(ejectAndTime(), 10_000);
  assert.equal(ejectAndTime(), 20_000);
  assert.equal(ejectAndTime(), 25_000, 'capped at max_ejection_time');
  assert.equal(m.numEjections, 3);
  assert.equal(m.backoff, 3);
  // Behaving for base_ejection_time after coming back, each sweep takes one step off.
  for (let i = 0; i < 10; i++) {
    t.advance(1000);
    t.d.sweep();
  }
  assert.equal(m.backoff, 2);
  t.advance(1000);
  t.d.sweep();
  assert.equal(m.backoff, 1);
  assert.equal(ejectAndTime(), 20_000);
});

test('success rate: Envoy\'s example {50,100,100,100,100} with factor 1.9 gives mean 90 and threshold 52', () => {
  const r = successRateThreshold([50, 100, 100, 100, 100], 1.9);
  assert.equal(r.mean, 90);
  assert.ok(Math.abs(r.threshold - 52) < 1e-9);
});

test('success-rate and failure-percentage ejections at the sweep, from the last complete interval', () => {
  const t = detector({ consecutive5xx: 1000, successRateRequestVolume: 10, successRateMinimumHosts: 5 }, 5);
  t.hosts.forEach((h, i) => {
    for (let k = 0; k < 20; k++) reportHttpOutcome(h, i === 0 && k % 2 === 0 ? 500 : 200, '');
  });
  t.d.sweep();
  assert.deepEqual(t.hosts.map((h) => h.healthy), [false, true, true, true, true]);
  assert.equal(t.stat('ejections_enforced_success_rate'), 1);
  assert.equal(t.d.external.mean, 90);
  // Failure percentage: enforcing 0 by default; with 100 a host at >= 85% failures goes.
  const f = detector({ consecutive5xx: 1000, successRateRequestVolume: 1000, enforcingFailurePercentage: 100, failurePercentageRequestVolume: 10, failurePercentageMinimumHosts: 2 }, 2);
  for (let k = 0; k < 20; k++) {
    reportHttpOutcome(f.hosts[0], k < 18 ? 503 : 200, '');
    reportHttpOutcome(f.hosts[1], 200, '');
  }
  f.d.sweep();
  assert.deepEqual(f.hosts.map((h) => h.healthy), [false, true]);
  assert.equal(f.stat('ejections_enforced_failure_percentage'), 1);
  assert.equal(f.hosts[1].outlier!.external.rate, 100);
});

test('enforcing_consecutive_5xx 0 detects without ejecting', () => {
  const t = detector({ consecutive5xx: 1, enforcingConsecutive5xx: 0 }, 2);
  reportHttpOutcome(t.hosts[0], 500, '');
  assert.equal(t.hosts[0].healthy, true);
  assert.equal(t.stat('ejections_detected_consecutive_5xx'), 1);
  assert.equal(t.stat('ejections_enforced_total'), 0);
});

test('a host that leaves the cluster while ejected no longer counts as ejected', () => {
  const t = detector({ consecutive5xx: 1 }, 2);
  reportHttpOutcome(t.hosts[0], 500, '');
  assert.equal(t.stat('ejections_active'), 1);
  t.d.setHosts([t.hosts[1]]);
  assert.equal(t.stat('ejections_active'), 0);
  assert.equal(t.hosts[0].outlier, null);
  void OutlierResult;
});

// ---- decoding

const bootstrap = (clusterExtra: string, endpointExtra = '') => `
static_resources:
  clusters:
  - name: c
    connect_timeout: 1s
${clusterExtra}
    load_assignment:
      cluster_name: c
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: { socket_address: { address: 127.0.0.1, port_value: 8080 } }${endpointExtra}
`;
const decode = (yaml: string) => decodeBootstrap(parseConfigText(yaml, 'b.yaml'), 'b.yaml').clusters[0];
const errors = (yaml: string): string => {
  try {
    decode(yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return '';
};

test('health_checks decode with Envoy\'s defaults', () => {
  const c = decode(bootstrap(`    health_checks:
    - timeout: 0.5s
      interval: 2s
      unhealthy_threshold: 3
      healthy_threshold: 2
      unhealthy_interval: 4s
      http_health_check:
        path: /healthz
        expected_statuses: [{ start: 200, end: 300 }]
        request_headers_to_add: [{ header: { key: x-hc, value: "1" } }]
        request_headers_to_remove: [user-agent]`));
  const h = c.healthChecks[0];
  assert.equal(h.timeoutMs, 500);
  assert.equal(h.intervalMs, 2000);
  assert.equal(h.noTrafficIntervalMs, 60_000);
  assert.equal(h.noTrafficHealthyIntervalMs, 60_000);
  assert.equal(h.unhealthyIntervalMs, 4000);
  assert.equal(h.unhealthyEdgeIntervalMs, 4000, 'defaults to unhealthy_interval');
  assert.equal(h.healthyEdgeIntervalMs, 2000, 'defaults to interval');
  assert.equal(h.reuseConnection, true);
  assert.equal(h.check.t, 'http');
  if (h.check.t === 'http') {
    assert.deepEqual(h.check.expectedStatuses, [[200, 300]]);
    assert.equal(h.check.method, 'GET');
    assert.equal(h.check.codec, 'http1');
    assert.deepEqual(h.check.headers.requestHeadersToRemove, ['user-agent']);
  }
  assert.equal(c.outlier, undefined);
  const t = decode(bootstrap(`    health_checks:
    - { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: { send: { text: "50494e47" }, receive: [{ text: "504f4e47" }] } }`));
  assert.equal(t.healthChecks[0].check.t, 'tcp');
  if (t.healthChecks[0].check.t === 'tcp') {
    assert.equal(t.healthChecks[0].check.send.toString(), 'PING');
    assert.equal(t.healthChecks[0].check.receive[0].toString(), 'PONG');
  }
});

test('outlier_detection decodes with Envoy\'s defaults', () => {
  const c = decode(bootstrap('    outlier_detection: { base_ejection_time: 60s }'));
  const o = c.outlier!;
  assert.equal(o.consecutive5xx, 5);
  assert.equal(o.intervalMs, 10_000);
  assert.equal(o.baseEjectionTimeMs, 60_000);
  assert.equal(o.maxEjectionTimeMs, 300_000);
  assert.equal(o.maxEjectionPercent, 10);
  assert.equal(o.enforcingConsecutiveGatewayFailure, 0);
  assert.equal(o.successRateStdevFactor, 1.9);
  const big = decode(bootstrap('    outlier_detection: { base_ejection_time: 400s }'));
  assert.equal(big.outlier!.maxEjectionTimeMs, 400_000, 'max_ejection_time is at least base_ejection_time');
});

test('what is not implemented or invalid is rejected by name', () => {
  const hc = (body: string) => bootstrap(`    health_checks:
    - { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, ${body} }`);
  assert.match(errors(hc('custom_health_check: { name: x }')), /health_checks\[0\]\.custom_health_check: not supported by switchyard/);
  assert.match(errors(hc('alt_port: 9, tcp_health_check: {}')), /health_checks\[0\]\.alt_port: not supported by switchyard/);
  assert.match(errors(hc('event_log_path: /tmp/x, tcp_health_check: {}')), /event_log_path: not supported by switchyard/);
  assert.match(errors(hc('tcp_health_check: { send: { text: "zz" } }')), /tcp_health_check\.send\.text: invalid hex payload/);
  assert.match(errors(hc('grpc_health_check: {}')), /grpc_health_check: the cluster must support HTTP\/2/);
  assert.match(errors(hc('http_health_check: { path: /, expected_statuses: [{ start: 50, end: 200 }] }')), /expected_statuses\[0\]: invalid range/);
  assert.match(errors(hc('http_health_check: { path: /, codec_client_type: HTTP3 }')), /codec_client_type: "HTTP3" not supported/);
  assert.match(errors(bootstrap(`    health_checks:
    - { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }
    - { timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }`)), /health_checks: multiple health checks not supported/);
  assert.match(errors(hc('tcp_health_check: {}').replace('timeout: 1s, ', '')), /health_checks\[0\]\.timeout: (is required|value is required)/);
  assert.match(errors(bootstrap('    outlier_detection: { monitors: [{ name: x }] }')), /outlier_detection\.monitors: not supported by switchyard/);
  assert.match(errors(bootstrap('', `
            health_check_config: { address: { socket_address: { address: 127.0.0.2, port_value: 1 } } }`)), /health_check_config\.address: not supported by switchyard/);
  const ok = decode(bootstrap('', `
            health_check_config: { port_value: 9000, hostname: hc.local, disable_active_health_check: true }`));
  assert.deepEqual(ok.localities[0].endpoints[0].healthCheck, { portValue: 9000, hostname: 'hc.local', disableActiveHealthCheck: true });
});
