// Load balancing from the user's side: the proxy binary with a bootstrap, real backends that
// say who they are (x-backend), node:http and raw TCP clients. Distributions are checked
// with stated tolerances over a few thousand requests; ring hash and Maglev placement is
// checked against the placement Envoy computes for the same hosts (src/upstream/lb, pinned
// to Envoy's own expectations in test/unit/lb.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { Host } from '../../src/upstream/host';
import { MaglevTable } from '../../src/upstream/lb/maglev';
import { groupHosts } from '../../src/upstream/lb/priority';
import { Ring } from '../../src/upstream/lb/ring_hash';
import { normalizeWeights } from '../../src/upstream/lb/thread_aware';
import { h64, xxh64String } from '../../src/upstream/lb/xxhash64';
import { httpRequest, startHttpBackend, startProxy, trackResource, type HttpBackend, type Proxy } from './harness';
import { ADMIN_YAML, hcmListenerYaml, routeYaml, tcpProxyListenerYaml } from './bootstrap_yaml';

const ep = (port: number, extra = '') => `
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }${extra}`;
const cluster = (name: string, body: string, endpoints: string) => `
  - name: ${name}
    connect_timeout: 1s
    type: STATIC
${body}
    load_assignment:
      cluster_name: ${name}
      endpoints:
${endpoints}`;
const locality = (eps: string, extra = '') => `      - lb_endpoints:${eps}${extra ? '\n' + extra : ''}`;

interface TcpNamed { port: number; name: string }
function startTcpNamed(name: string): Promise<TcpNamed> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end(name);
    });
    srv.listen(0, '127.0.0.1', () => {
      trackResource(() => new Promise<void>((r) => srv.close(() => r())));
      resolve({ port: (srv.address() as net.AddressInfo).port, name });
    });
  });
}

/** A backend that answers after `ms`, always (the slow host of the least-request test). */
function startSlow(name: string, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const srv = http.createServer((_req, res) => {
      const t = setTimeout(() => res.writeHead(200, { 'x-backend': name }).end(name), ms);
      res.on('close', () => clearTimeout(t));
    });
    srv.listen(0, '127.0.0.1', () => {
      trackResource(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
      resolve((srv.address() as net.AddressInfo).port);
    });
  });
}

describe('load balancing policies and hash policies', () => {
  let a: HttpBackend, b: HttpBackend, c: HttpBackend;
  let slowPort: number;
  let tcp: TcpNamed[];
  let proxy: Proxy;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  after(() => agent.destroy());

  before(async () => {
    [a, b, c] = await Promise.all([startHttpBackend('a'), startHttpBackend('b'), startHttpBackend('c')]);
    slowPort = await startSlow('slow', 100);
    tcp = await Promise.all(['t1', 't2', 't3'].map(startTcpNamed));
    const headerHash = `
                  hash_policy: [{ header: { header_name: x-user } }]`;
    const cookieHash = `
                  hash_policy: [{ cookie: { name: sticky, ttl: 3600s, path: / } }]`;
    const yaml = `
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'LISTENER_PORT', 'lb', routeYaml('/wrr', 'weighted') + routeYaml('/lr', 'least') + routeYaml('/ring', 'ring', headerHash) + routeYaml('/maglev', 'maglev', headerHash) + routeYaml('/sticky', 'ring', cookieHash) + routeYaml('/prio100', 'prio100') + routeYaml('/prio', 'prio') + routeYaml('/panic', 'panic') + routeYaml('/nopanic', 'nopanic'))}
${tcpProxyListenerYaml('tcp', 'LISTENER_TCP_PORT', 'tcp', 'tcp_ring', `
          hash_policy: [{ source_ip: {} }]`)}
  clusters:${cluster('weighted', '    lb_policy: ROUND_ROBIN', locality(ep(a.port, '\n          load_balancing_weight: 1') + ep(b.port, '\n          load_balancing_weight: 3')))}${cluster('least', '    lb_policy: LEAST_REQUEST', locality(ep(a.port) + ep(slowPort)))}${cluster('ring', '    lb_policy: RING_HASH', locality(ep(a.port) + ep(b.port) + ep(c.port)))}${cluster('maglev', `    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: maglev
          typed_config: { "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev }`, locality(ep(a.port) + ep(b.port) + ep(c.port)))}${cluster('prio', '', locality(ep(a.port) + ep(b.port, '\n          health_status: UNHEALTHY')) + '\n' + locality(ep(c.port), '        priority: 1'))}${cluster('prio100', '', locality(ep(a.port) + ep(b.port, '\n          health_status: UNHEALTHY')) + '\n' + locality(ep(c.port), '        priority: 1') + '\n      policy: { overprovisioning_factor: 100 }')}${cluster('panic', '', locality(ep(a.port) + ep(b.port, '\n          health_status: UNHEALTHY') + ep(c.port, '\n          health_status: UNHEALTHY')))}${cluster('nopanic', '    common_lb_config: { healthy_panic_threshold: { value: 0 } }', locality(ep(a.port) + ep(b.port, '\n          health_status: UNHEALTHY') + ep(c.port, '\n          health_status: UNHEALTHY')))}${cluster('tcp_ring', '    lb_policy: RING_HASH', locality(tcp.map((t) => ep(t.port)).join('')))}
`;
    proxy = await startProxy(yaml);
  });

  const get = async (path: string, headers: http.OutgoingHttpHeaders = {}, ag: http.Agent | false = agent) => {
    const r = await httpRequest(`http://127.0.0.1:${proxy.port('LISTENER_PORT')}${path}`, { headers, agent: ag });
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.body}`);
    return r;
  };
  const who = async (path: string, headers: http.OutgoingHttpHeaders = {}) => String((await get(path, headers)).headers['x-backend']);
  /** Runs `n` requests with `conc` in flight; returns the count per backend. */
  const spread = async (n: number, conc: number, path: string) => {
    const counts: Record<string, number> = {};
    let next = 0;
    await Promise.all(Array.from({ length: conc }, async () => {
      while (next < n) {
        next++;
        const w = await who(path);
        counts[w] = (counts[w] ?? 0) + 1;
      }
    }));
    return counts;
  };
  const nameOf = (port: number) => ({ [a.port]: 'a', [b.port]: 'b', [c.port]: 'c' } as Record<number, string>)[port];

  test('weighted round robin: load_balancing_weight 1:3 gives 25%/75% (±2%) over 2000 requests', async () => {
    const n = 2000;
    const counts = await spread(n, 8, '/wrr');
    assert.deepEqual(Object.keys(counts).sort(), ['a', 'b']);
    const shareB = counts.b / n;
    assert.ok(Math.abs(shareB - 0.75) <= 0.02, `b got ${(shareB * 100).toFixed(1)}%`);
  });

  test('least request: the idle host gets most requests when the other is slow', async () => {
    const n = 400;
    const counts = await spread(n, 8, '/lr');
    const fast = (counts.a ?? 0) / n;
    // Round robin would give 50%; two choices send a pick to the busy host only when both
    // samples land on it (1/4 of the picks while it is the busier one).
    assert.ok(fast >= 0.65, `the idle host got ${(fast * 100).toFixed(1)}% (${JSON.stringify(counts)})`);
  });

  for (const [path, kind] of [['/ring', 'RING_HASH'], ['/maglev', 'MAGLEV']] as const) {
    test(`${kind}: a header value goes to the same host every time, the host Envoy's placement gives, and values spread evenly`, async () => {
      const hosts = [a, b, c].map((x) => new Host('127.0.0.1', x.port, 1, 'HEALTHY', 0, undefined));
      const w = normalizeWeights(groupHosts(hosts)[0], false, false);
      const table = kind === 'RING_HASH' ? new Ring(w, 1024, 8388608, false) : new MaglevTable(w, 65537, false);
      const expected = (user: string) => {
        xxh64String(user);
        return nameOf(table.choose(h64.hi, h64.lo, 0)!.port);
      };
      for (let u = 0; u < 20; u++) {
        const user = `user-${u}`;
        const want = expected(user);
        for (let i = 0; i < 5; i++) assert.equal(await who(path, { 'x-user': user }), want, `${user} request ${i}`);
      }
      const counts: Record<string, number> = {};
      const users = 600;
      for (let u = 0; u < users; u++) {
        const w2 = await who(path, { 'x-user': `spread-${u}` });
        counts[w2] = (counts[w2] ?? 0) + 1;
      }
      // Each of 3 hosts should hold about a third; allow 20–47% for the ring's granularity.
      for (const k of ['a', 'b', 'c']) {
        const share = (counts[k] ?? 0) / users;
        assert.ok(share >= 0.2 && share <= 0.47, `${kind}: host ${k} got ${(share * 100).toFixed(1)}% (${JSON.stringify(counts)})`);
      }
      // No header: no hash, so Envoy picks at random: every host is used.
      const noHash = new Set<string>();
      for (let i = 0; i < 60; i++) noHash.add(await who(path));
      assert.equal(noHash.size, 3);
    });
  }

  test('cookie affinity: the first response sets a generated cookie; requests carrying it stick', async () => {
    const first = await get('/sticky', {}, false);
    const setCookie = first.headers['set-cookie'];
    assert.ok(setCookie && setCookie.length === 1, `Set-Cookie: ${JSON.stringify(setCookie)}`);
    const m = /^sticky="([0-9a-f]{16})"; Max-Age=3600; Path=\/; HttpOnly$/.exec(setCookie[0]);
    assert.ok(m, setCookie[0]);
    const host = String(first.headers['x-backend']);
    for (let i = 0; i < 20; i++) {
      // A fresh connection each time: the affinity comes from the cookie, not the connection.
      const r = await get('/sticky', { cookie: `sticky="${m[1]}"` }, false);
      assert.equal(r.headers['x-backend'], host);
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie once the client has one');
    }
    // Other clients (other source ports) get other cookies, and land on every host.
    const hosts = new Set<string>();
    const cookies = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await get('/sticky', {}, false);
      cookies.add(String(r.headers['set-cookie']));
      hosts.add(String(r.headers['x-backend']));
    }
    assert.ok(cookies.size >= 29, `${cookies.size} distinct cookies`);
    assert.equal(hosts.size, 3);
  });

  test('priority levels: 1 of 2 healthy at P0 keeps 70% there with the 1.4 factor (50% with factor 1.0)', async () => {
    const n = 2000;
    const counts = await spread(n, 8, '/prio');
    assert.equal(counts.b ?? 0, 0, 'the unhealthy host gets nothing');
    const p0 = (counts.a ?? 0) / n;
    assert.ok(Math.abs(p0 - 0.7) <= 0.04, `P0 got ${(p0 * 100).toFixed(1)}%`);
    const c100 = await spread(n, 8, '/prio100');
    const p0b = (c100.a ?? 0) / n;
    assert.ok(Math.abs(p0b - 0.5) <= 0.04, `P0 with factor 100 got ${(p0b * 100).toFixed(1)}%`);
  });

  test('panic mode: with 1 of 3 hosts healthy (< 50%) all hosts take traffic; threshold 0 keeps to the healthy one', async () => {
    const counts = await spread(300, 4, '/panic');
    for (const k of ['a', 'b', 'c']) assert.ok((counts[k] ?? 0) > 50, `panic: ${JSON.stringify(counts)}`);
    const stats = await proxy.stats();
    assert.ok((stats.get('cluster.panic.lb_healthy_panic') ?? 0) >= 300);
    const calm = await spread(100, 4, '/nopanic');
    assert.deepEqual(calm, { a: 100 });
  });

  test('tcp_proxy source_ip hashing: each 127.0.0.x source always reaches the same backend, the one Envoy places it on', async () => {
    const hosts = tcp.map((t) => new Host('127.0.0.1', t.port, 1, 'HEALTHY', 0, undefined));
    const ring = new Ring(normalizeWeights(groupHosts(hosts)[0], false, false), 1024, 8388608, false);
    const byPort = new Map(tcp.map((t) => [t.port, t.name]));
    const connectFrom = (src: string) => new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: proxy.port('LISTENER_TCP_PORT'), localAddress: src });
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    });
    const seen = new Set<string>();
    for (let x = 2; x < 32; x++) {
      const src = `127.0.0.${x}`;
      xxh64String(src);
      const want = byPort.get(ring.choose(h64.hi, h64.lo, 0)!.port);
      for (let i = 0; i < 3; i++) assert.equal(await connectFrom(src), want, `${src} connection ${i}`);
      seen.add(want!);
    }
    assert.equal(seen.size, 3, '30 sources spread over the 3 backends');
  });
});
