// Active health checks and outlier detection with --concurrency 2, from the user's side.
// Envoy runs one health checker and one outlier detector per cluster (on its main thread)
// however many workers it has, and every worker balances on their verdicts; a user coming
// from Envoy expects the same checks on the wire, errors counted over the whole proxy, and the
// same hosts taken out everywhere. Real backends count the checks they get; requests go in on
// fresh connections until both worker processes have served some (the PIDs that own the
// connections that carried them, from `ss -tnp`); /stats and /clusters are read from the admin
// API. Every wait is bounded; counts of checks are compared with what the configured
// intervals allow, with wide margins.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, startProxy, waitFor, type Proxy } from './harness';
import { startBackend, type Backend } from './health_backend';
import { answers, healthFlags, stat, throughBothWorkers } from './worker_spread';
import { ADMIN_YAML, hcmListenerYaml, routeYaml } from './bootstrap_yaml';

const INTERVAL_S = 0.2;
const NO_TRAFFIC_INTERVAL_S = 1;

describe('active health checks with --concurrency 2', () => {
  let a: Backend, b: Backend;
  let proxy: Proxy;

  before(async () => {
    [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
    const ep = (port: number) => `
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
    const yaml = `
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'hcc', routeYaml('/', 'hc'))}
  clusters:
  - name: hc
    connect_timeout: 1s
    type: STATIC
    common_lb_config: { healthy_panic_threshold: { value: 0 } }
    health_checks:
    - timeout: 1s
      interval: ${INTERVAL_S}s
      no_traffic_interval: ${NO_TRAFFIC_INTERVAL_S}s
      unhealthy_threshold: 1
      healthy_threshold: 1
      http_health_check: { path: /healthz }
    load_assignment:
      cluster_name: hc
      endpoints:
      - lb_endpoints:${ep(a.port)}${ep(b.port)}`;
    proxy = await startProxy(yaml, { concurrency: 2 });
  });

  /** The checks `backend` gets during `seconds` from now. */
  async function checksDuring(backend: Backend, seconds: number): Promise<number> {
    const before = backend.checks.length;
    await sleep(seconds * 1000);
    return backend.checks.length - before;
  }

  test('before any traffic each host is checked once per no_traffic_interval, not once per process', async () => {
    // One checker: about 3 checks in 3 s; one per process (primary and two workers) would be ~9.
    const seconds = 3;
    const n = await checksDuring(a, seconds);
    assert.ok(n >= 1 && n <= seconds / NO_TRAFFIC_INTERVAL_S + 2, `checks of backend a in ${seconds} s: ${n}`);
    // The checker's counters are the proxy's, and match what the backends saw.
    const seen = a.checks.length + b.checks.length;
    const attempts = await stat(proxy, 'cluster.hc.health_check.attempt');
    assert.ok(Math.abs(attempts - seen) <= 2, `health_check.attempt ${attempts}, checks the backends saw ${seen}`);
  });

  test('traffic through the workers switches the checks to interval', async () => {
    const got = await answers(proxy, 20);
    assert.deepEqual(got.filter((x) => x !== 'a' && x !== 'b'), [], `answers: ${got.join(' ')}`);
    // No worker has ever run a check here: the primary learns of the traffic from the
    // workers (within a second), and its next check is scheduled with interval.
    await waitFor('checks of a at interval', async () => (await checksDuring(a, 1)) >= 0.5 / INTERVAL_S, { attempts: 8, intervalMs: 0 });
    const n = await checksDuring(a, 2);
    assert.ok(n >= 1 / INTERVAL_S && n <= 2 / INTERVAL_S + 3, `checks of backend a in 2 s at interval ${INTERVAL_S} s: ${n}`);
  });

  test('a host that fails its check is taken out by both workers, and comes back in both', async () => {
    a.health = 503;
    await waitFor('a marked /failed_active_hc', async () => (await healthFlags(proxy, 'hc', a.port)).includes('/failed_active_hc'), { attempts: 50 });
    assert.equal(await healthFlags(proxy, 'hc', b.port), 'healthy');
    const down = await throughBothWorkers(proxy, b);
    assert.deepEqual(down.answers.filter((x) => x !== 'b'), [], `every request should go to b: ${down.answers.join(' ')}`);
    assert.equal(down.owners.size, 2, `the requests that reached b came from worker processes ${[...down.owners].join(', ')}`);
    assert.equal(await stat(proxy, 'cluster.hc.membership_healthy'), 1, 'one healthy host, counted once for the proxy');

    a.health = 200;
    await waitFor('a healthy again', async () => (await healthFlags(proxy, 'hc', a.port)) === 'healthy', { attempts: 50 });
    const back = await throughBothWorkers(proxy, a);
    assert.ok(back.answers.includes('a'), `a should take part again: ${back.answers.join(' ')}`);
    assert.equal(back.owners.size, 2, `the requests that reached a came from worker processes ${[...back.owners].join(', ')}`);
    assert.equal(await stat(proxy, 'cluster.hc.membership_healthy'), 2);
  });
});

describe('outlier detection with --concurrency 2', () => {
  let good: Backend, bad: Backend;
  let proxy: Proxy;

  before(async () => {
    [good, bad] = await Promise.all([startBackend('good'), startBackend('bad', 500)]);
    proxy = await startProxy(`
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'odc', routeYaml('/', 'od'))}
  clusters:
  - name: od
    connect_timeout: 1s
    type: STATIC
    outlier_detection: { consecutive_5xx: 3, interval: 10s, base_ejection_time: 60s, max_ejection_percent: 50 }
    load_assignment:
      cluster_name: od
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${good.port} } } }
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${bad.port} } } }`, { concurrency: 2 });
  });

  test('a host answering 5xx is ejected once, on the errors of both workers, and both stop sending to it', async () => {
    // Requests through both workers until the primary's detector has ejected `bad`.
    await waitFor('bad ejected', async () => {
      await answers(proxy, 8, 4);
      return (await stat(proxy, 'cluster.od.outlier_detection.ejections_active')) >= 1;
    }, { attempts: 20, intervalMs: 0 });
    assert.match(await healthFlags(proxy, 'od', bad.port), /\/failed_outlier_check/);
    // From now on both workers send everything to `good` (a worker still counting on its
    // own would send some to `bad` until its own count reached consecutive_5xx).
    const after = await throughBothWorkers(proxy, good);
    assert.deepEqual(after.answers.filter((x) => x !== 'good'), [], `every request should go to good: ${after.answers.join(' ')}`);
    assert.equal(after.owners.size, 2, `the requests that reached good came from worker processes ${[...after.owners].join(', ')}`);
    // One detector for the proxy: one ejection (one per worker would make two).
    assert.equal(await stat(proxy, 'cluster.od.outlier_detection.ejections_enforced_total'), 1);
    assert.equal(await stat(proxy, 'cluster.od.outlier_detection.ejections_active'), 1);
  });
});
