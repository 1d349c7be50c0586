// STRICT_DNS clusters, from the user's side. Envoy does not finish its initialization (/ready,
// serving) before a DNS cluster's first answer, so the first request finds the hosts. With
// --concurrency, Envoy resolves a DNS cluster's names on its main thread, once per
// dns_refresh_rate however many workers it has, and every worker balances over the one answer;
// with the hosts the same everywhere, the cluster's health checks run once too.
// The proxy here resolves through the real system resolver (getaddrinfo) against a DNS server
// the test runs and counts queries on: the proxy runs in a mount namespace of its own whose
// /etc/resolv.conf names only that server. Which worker carried a request is read from
// `ss -tnp` (the PID owning the upstream connection). Every wait is bounded; counts are
// compared with what the configured rates allow, with margins.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, sleep, startProxy, waitFor, type Proxy } from './harness';
import { startBackend, type Backend } from './health_backend';
import { startDnsServer, resolverWrap, type DnsServer } from './dns_server';
import { answers, healthFlags, stat, throughBothWorkers } from './worker_spread';
import { ADMIN_YAML, hcmListenerYaml, routeYaml } from './bootstrap_yaml';

const REFRESH_S = 0.5;
const NO_TRAFFIC_INTERVAL_S = 0.5;
const WEB = 'web.switchyard.test';
const CHECKED = 'checked.switchyard.test';

/** A STRICT_DNS cluster item (under `clusters:`) with one endpoint, `host`:`port`, then `extra` cluster fields. */
function dnsCluster(name: string, host: string, port: number, extra = ''): string {
  return `
  - name: ${name}
    connect_timeout: 1s
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    dns_refresh_rate: ${REFRESH_S}s${extra}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: ${host}, port_value: ${port} } } }`;
}

describe('STRICT_DNS clusters with --concurrency 2', () => {
  let dns: DnsServer;
  let a: Backend, b: Backend, c: Backend;
  let proxy: Proxy;

  before(async () => {
    a = await startBackend('a', 200, '127.0.0.1');
    // b listens on the same port at another address: the DNS answer alone moves the traffic.
    b = await startBackend('b', 200, '127.0.0.2', a.port);
    c = await startBackend('c', 200, '127.0.0.1');
    dns = await startDnsServer('127.53.0.7', { [WEB]: ['127.0.0.1'], [CHECKED]: ['127.0.0.1'] });
    proxy = await startProxy(`
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'dnsc', routeYaml('/', 'web'))}
  clusters:${dnsCluster('web', WEB, a.port)}${dnsCluster('checked', CHECKED, c.port, `
    health_checks:
    - timeout: 1s
      interval: 0.2s
      no_traffic_interval: ${NO_TRAFFIC_INTERVAL_S}s
      unhealthy_threshold: 1
      healthy_threshold: 1
      http_health_check: { path: /healthz }`)}`, { concurrency: 2, wrap: resolverWrap(dns) });
    // Start-up waited for the first answer (see the last tests), so the first request finds a.
    assert.deepEqual(await answers(proxy, 1), ['a']);
  });

  test('each name is looked up once per dns_refresh_rate for the whole proxy, not once per process', async () => {
    const seconds = 3;
    const before = dns.count(WEB, 'A');
    await sleep(seconds * 1000);
    const n = dns.count(WEB, 'A') - before;
    // One resolver: about 6 lookups in 3 s at 0.5 s; one per process (the primary and two workers) would be ~18.
    assert.ok(n >= 2 && n <= seconds / REFRESH_S + 3, `A queries for ${WEB} in ${seconds} s: ${n} (queries: ${dns.queries.length})`);
    assert.equal(dns.count(WEB, 'AAAA'), 0, 'V4_ONLY asks for A records only');
  });

  test('a DNS cluster is health-checked once for the whole proxy', async () => {
    const seconds = 3;
    const before = c.checks.length;
    await sleep(seconds * 1000);
    const n = c.checks.length - before;
    // One checker: ~6 checks in 3 s at no_traffic_interval 0.5 s; a checker per worker would make ~12.
    assert.ok(n >= 2 && n <= seconds / NO_TRAFFIC_INTERVAL_S + 2, `checks of c in ${seconds} s: ${n}`);
    const attempts = await stat(proxy, 'cluster.checked.health_check.attempt');
    assert.ok(Math.abs(attempts - c.checks.length) <= 2, `health_check.attempt ${attempts}, checks c saw ${c.checks.length}`);
    assert.equal(await healthFlags(proxy, 'checked', c.port), 'healthy');
    assert.equal(await stat(proxy, 'cluster.checked.membership_healthy'), 1, 'one healthy host, counted once for the proxy');
  });

  test('a new answer moves both workers to the new address, and /clusters shows it', async () => {
    const changesBefore = await stat(proxy, 'cluster.web.membership_change');
    const first = await throughBothWorkers(proxy, a);
    assert.deepEqual(first.answers.filter((x) => x !== 'a'), [], `every request should go to a: ${first.answers.join(' ')}`);
    assert.equal(first.owners.size, 2, `the requests that reached a came from worker processes ${[...first.owners].join(', ')}`);
    // Unchanged answers change nothing (Envoy counts membership_change only for a change).
    assert.equal(await stat(proxy, 'cluster.web.membership_change'), changesBefore, 'membership_change while the answer stayed the same');

    dns.records.set(WEB, ['127.0.0.2']);
    await waitFor('/clusters lists 127.0.0.2 only', async () => {
      const r = await proxy.admin('/clusters');
      return r.body.includes(`web::127.0.0.2:${b.port}::`) && !r.body.includes(`web::127.0.0.1:${a.port}::`);
    }, { attempts: 50 });
    const moved = await throughBothWorkers(proxy, b);
    assert.deepEqual(moved.answers.filter((x) => x !== 'b'), [], `every request should go to b: ${moved.answers.join(' ')}`);
    assert.equal(moved.owners.size, 2, `the requests that reached b came from worker processes ${[...moved.owners].join(', ')}`);
    // The one change, counted once for the proxy (each worker saw it; not their sum).
    assert.equal(await stat(proxy, 'cluster.web.membership_total'), 1);
    assert.equal(await stat(proxy, 'cluster.web.membership_change'), changesBefore + 1);
  });

  test('a name that stops resolving keeps its last addresses (Envoy keeps the hosts on a failed lookup)', async () => {
    dns.records.delete(WEB);
    const from = dns.count(WEB, 'A');
    await waitFor('three failed lookups', () => dns.count(WEB, 'A') >= from + 3, { attempts: 50 });
    const still = await answers(proxy, 10, 2);
    assert.deepEqual(still.filter((x) => x !== 'b'), [], `every request should still go to b: ${still.join(' ')}`);
    assert.match((await proxy.admin('/clusters')).body, new RegExp(`web::127\\.0\\.0\\.2:${b.port}::`));
  });
});

for (const [concurrency, address] of [[1, '127.53.0.8'], [2, '127.53.0.9']] as const) {
  describe(`a DNS cluster's first answer before /ready (--concurrency ${concurrency})`, () => {
    test('/ready waits for a slow answer, the first request finds the host; a name that does not resolve holds nothing up', async () => {
      const slow = 'slow.switchyard.test';
      const backend = await startBackend('slow');
      const dns = await startDnsServer(address, { [slow]: ['127.0.0.1'] });
      dns.delays.set(slow, 1500);
      const proxy = await startProxy(`
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'dnsi', routeYaml('/missing/', 'missing') + routeYaml('/', 'slow'))}
  clusters:${dnsCluster('slow', slow, backend.port)}${dnsCluster('missing', 'missing.switchyard.test', backend.port)}`, { concurrency, wrap: resolverWrap(dns) });
      // startProxy has seen /ready answer 200: by then the slow answer was in.
      assert.ok(dns.count(slow, 'A') >= 1);
      const r = await httpRequest(`http://127.0.0.1:${proxy.port('LISTENER_PORT')}/x`);
      assert.equal(r.status, 200, `the first request after /ready: ${r.status} ${r.body.toString('utf8')}`);
      assert.equal(r.headers['x-backend'], 'slow');
      // NXDOMAIN: the cluster is initialized with no hosts (Envoy's 503, no healthy upstream).
      assert.ok(dns.count('missing.switchyard.test', 'A') >= 1);
      const m = await httpRequest(`http://127.0.0.1:${proxy.port('LISTENER_PORT')}/missing/x`);
      assert.equal(m.status, 503);
      await proxy.stop();
    });
  });
}
