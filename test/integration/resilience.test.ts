// Retries, timeouts and circuit breakers from the user's side: the proxy binary with a
// bootstrap, scripted HTTP/1.1 backends (they fail, stall or answer as each request's
// headers ask, and record which backend saw which attempt), a @grpc/grpc-js server and
// client, raw TCP, and the admin /stats Envoy users read. Never asserts on timings: the
// timeouts are checked by their status, body and counters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { readFixture, sleep, startHttpBackend, startProxy, trackResource, waitFor, type Proxy } from './harness';
import { ADMIN_YAML, hcmListenerYaml, routeYaml } from './bootstrap_yaml';

// ---------------------------------------------------------------- scripted backends

/** Attempts seen per x-test-id, across backends: [backend name, body length, body sha256]. */
const seen = new Map<string, { backend: string; bodyLength: number; sha: string; attemptHeader?: string; expected?: string; timeoutHeader?: string }[]>();

/**
 * An HTTP/1.1 backend driven by request headers:
 *  x-test-id          groups the attempts of one client request
 *  x-fail-times: N    the first N attempts of that id fail (on any backend)
 *  x-fail-backend: B  attempts reaching backend B always fail
 *  x-fail-status      the failing status (default 503); x-fail-header: "name: value" is added to it
 *  x-slow-backend: B, x-delay-ms: N   backend B answers only after N ms
 * It reads the whole body first and answers with JSON naming itself.
 */
function startScripted(name: string): Promise<number> {
  return new Promise((resolve) => {
    const srv = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      const hash = crypto.createHash('sha256');
      let len = 0;
      req.on('data', (d: Buffer) => {
        len += d.length;
        hash.update(d);
      });
      req.on('error', () => undefined);
      req.on('end', () => {
        const id = String(req.headers['x-test-id'] ?? '');
        const list = seen.get(id) ?? [];
        seen.set(id, list);
        const attempt = String(req.headers['x-envoy-attempt-count'] ?? '');
        list.push({
          backend: name, bodyLength: len, sha: hash.digest('hex'), attemptHeader: attempt,
          expected: req.headers['x-envoy-expected-rq-timeout-ms'] as string | undefined,
          timeoutHeader: req.headers['x-envoy-upstream-rq-timeout-ms'] as string | undefined,
        });
        const failTimes = Number(req.headers['x-fail-times'] ?? 0);
        const fail = list.length <= failTimes || req.headers['x-fail-backend'] === name;
        const answer = () => {
          if (fail) {
            const h: http.OutgoingHttpHeaders = { 'x-backend': name };
            const fh = req.headers['x-fail-header'];
            if (typeof fh === 'string') h[fh.split(':')[0].trim()] = fh.split(':')[1].trim();
            res.writeHead(Number(req.headers['x-fail-status'] ?? 503), h);
            res.end('failed by ' + name);
            return;
          }
          const body = JSON.stringify({ backend: name, attempts: list.length, bodyLength: len });
          res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
          res.end(body);
        };
        const delay = req.headers['x-slow-backend'] === name ? Number(req.headers['x-delay-ms'] ?? 0) : 0;
        if (delay > 0) {
          const t = setTimeout(answer, delay);
          res.on('close', () => clearTimeout(t));
        } else answer();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      trackResource(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
      resolve((srv.address() as net.AddressInfo).port);
    });
  });
}

// ---------------------------------------------------------------- gRPC

const identity = (b: Buffer) => b;
function echoService(pkg: string) {
  return {
    Unary: {
      path: `/${pkg}.Echo/Unary`,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  } satisfies grpc.ServiceDefinition;
}
const grpcSeen = new Map<string, number>();
/** ms left until the deadline the server got (from grpc-timeout), per x-test-id. */
const grpcDeadlineLeft = new Map<string, number>();

/** gRPC server: fails the first x-fail-times calls of an x-test-id with x-fail-code; x-delay-ms stalls. */
async function startGrpc(): Promise<number> {
  const server = new grpc.Server();
  for (const pkg of ['retry', 'deadline', 'legacy']) {
    server.addService(echoService(pkg), {
      Unary(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
        const md = call.metadata;
        const id = String(md.get('x-test-id')[0] ?? '');
        const n = (grpcSeen.get(id) ?? 0) + 1;
        grpcSeen.set(id, n);
        const dl = call.getDeadline();
        grpcDeadlineLeft.set(id, dl instanceof Date ? dl.getTime() - Date.now() : Number(dl) - Date.now());
        const failTimes = Number(md.get('x-fail-times')[0] ?? 0);
        const delay = Number(md.get('x-delay-ms')[0] ?? 0);
        const answer = () => {
          if (n <= failTimes) cb({ code: Number(md.get('x-fail-code')[0] ?? grpc.status.UNAVAILABLE), details: `attempt ${n} failed` });
          else cb(null, Buffer.from(`ok after ${n}`));
        };
        if (delay > 0) setTimeout(answer, delay);
        else answer();
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  trackResource(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return port;
}

function grpcCall(port: number, pkg: string, md: Record<string, string>, deadlineMs = 10_000): Promise<{ code: number; details: string; value?: string }> {
  const Client = grpc.makeGenericClientConstructor(echoService(pkg), pkg);
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  const meta = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) meta.set(k, v);
  return new Promise((resolve) => {
    client.Unary(Buffer.from('hi'), meta, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, value?: Buffer) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', value: value!.toString() });
    });
  });
}

// ---------------------------------------------------------------- helpers

let idSeq = 0;
const newId = () => `t${process.pid}-${++idSeq}`;

function get(port: number, path: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer | (() => AsyncIterable<Buffer>)): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers, agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        for await (const c of body()) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      })();
    }
  });
}

const stat = (m: Map<string, number>, name: string) => m.get(name) ?? 0;

// ---------------------------------------------------------------- the tests

describe('retries, timeouts and circuit breakers', () => {
  let proxy: Proxy;
  let port: number;
  let tcpHeld: net.Socket[] = [];
  let tcpPort: number;

  before(async () => {
    const s1 = await startScripted('s1');
    const s2 = await startScripted('s2');
    const grpcPort = await startGrpc();
    // A TCP server that holds every connection open and echoes.
    const tcp = net.createServer((s) => {
      tcpHeld.push(s);
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    trackResource(() => new Promise<void>((r) => { for (const s of tcpHeld) s.destroy(); tcp.close(() => r()); }));
    tcpPort = (tcp.address() as net.AddressInfo).port;
    proxy = await startProxy(readFixture('resilience.yaml'), { vars: { S1_PORT: s1, S2_PORT: s2, GRPC_PORT: grpcPort, TCP_PORT: tcpPort } });
    port = proxy.port('LISTENER_PORT');
  });

  test('retriable-status-codes: a listed status is retried, another is not; attempts are counted both ways', async () => {
    const id = newId();
    const r = await get(port, '/codes', { 'x-test-id': id, 'x-fail-times': '1', 'x-fail-status': '418' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.equal(JSON.parse(r.body).backend, 's1');
    assert.deepEqual(seen.get(id)!.map((a) => a.attemptHeader), ['1', '2']);
    const id2 = newId();
    const r2 = await get(port, '/codes', { 'x-test-id': id2, 'x-fail-times': '1', 'x-fail-status': '500' });
    assert.equal(r2.status, 500);
    assert.equal(seen.get(id2)!.length, 1);
    const st = await proxy.stats();
    assert.equal(stat(st, 'cluster.one.upstream_rq_retry'), 1);
    assert.equal(stat(st, 'cluster.one.upstream_rq_retry_success'), 1);
    // Back-off is taken before every retry (base 10 ms here), and counted as Envoy does.
    assert.equal(stat(st, 'cluster.one.upstream_rq_retry_backoff_exponential'), 1);
  });

  test('retriable-headers: a response carrying the header is retried', async () => {
    const id = newId();
    const r = await get(port, '/headers', { 'x-test-id': id, 'x-fail-times': '1', 'x-fail-status': '200', 'x-fail-header': 'x-retry-me: yes' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).attempts, 2);
    const id2 = newId();
    const r2 = await get(port, '/headers', { 'x-test-id': id2, 'x-fail-times': '1', 'x-fail-status': '200', 'x-fail-header': 'x-retry-me: no' });
    assert.equal(r2.body, 'failed by s1');
    assert.equal(seen.get(id2)!.length, 1);
  });

  test('the virtual host retry_policy applies to a route without one (retriable-4xx: 409)', async () => {
    const id = newId();
    const r = await get(port, '/vhost', { 'x-test-id': id, 'x-fail-times': '1', 'x-fail-status': '409' });
    assert.equal(r.status, 200);
    assert.equal(seen.get(id)!.length, 2);
  });

  test('x-envoy-max-retries from an internal client is honoured; from an external one it is stripped', async () => {
    const id = newId();
    // num_retries is 1 on the route: 3 failures need the header's 3 retries.
    const r = await get(port, '/5xx', { 'x-test-id': id, 'x-fail-times': '3', 'x-envoy-max-retries': '3' });
    assert.equal(r.status, 200, r.body);
    assert.equal(seen.get(id)!.length, 4);
    const id2 = newId();
    const r2 = await get(port, '/5xx', { 'x-test-id': id2, 'x-fail-times': '3' });
    assert.equal(r2.status, 503);
    assert.equal(r2.body, 'failed by s1');
    assert.equal(seen.get(id2)!.length, 2);
    // x-forwarded-for from outside makes the request external (two addresses): the header is dropped.
    const id3 = newId();
    const r3 = await get(port, '/5xx', { 'x-test-id': id3, 'x-fail-times': '3', 'x-envoy-max-retries': '3', 'x-forwarded-for': '8.8.8.8' });
    assert.equal(r3.status, 503);
    assert.equal(seen.get(id3)!.length, 2);
    const st = await proxy.stats();
    assert.ok(stat(st, 'cluster.one.upstream_rq_retry_limit_exceeded') >= 2);
  });

  test('x-envoy-retry-on adds retry conditions to a route', async () => {
    const id = newId();
    const r = await get(port, '/timeout', { 'x-test-id': id, 'x-fail-times': '1', 'x-envoy-retry-on': 'gateway-error' });
    assert.equal(r.status, 200);
    assert.equal(seen.get(id)!.length, 2);
  });

  test('a small request body is replayed whole; one streamed past the buffer bound is never retried', async () => {
    const small = crypto.randomBytes(64 * 1024);
    const id = newId();
    const r = await get(port, '/5xx', { 'x-test-id': id, 'x-fail-times': '1', 'content-type': 'application/octet-stream' }, small);
    assert.equal(r.status, 200);
    const sha = crypto.createHash('sha256').update(small).digest('hex');
    assert.deepEqual(seen.get(id)!.map((a) => [a.bodyLength, a.sha]), [[small.length, sha], [small.length, sha]]);

    const before = stat(await proxy.stats(), 'cluster.one.retry_or_shadow_abandoned');
    const id2 = newId();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const r2 = await get(port, '/5xx', { 'x-test-id': id2, 'x-fail-times': '1', 'transfer-encoding': 'chunked' }, async function* () {
      for (let i = 0; i < 40; i++) yield chunk; // 2.5 MiB, over the 1 MiB bound
    });
    assert.equal(r2.status, 503);
    assert.equal(r2.body, 'failed by s1');
    assert.equal(seen.get(id2)!.length, 1);
    assert.equal(seen.get(id2)![0].bodyLength, 40 * chunk.length);
    assert.equal(stat(await proxy.stats(), 'cluster.one.retry_or_shadow_abandoned'), before + 1);
  });

  test('previous_hosts: the retry goes to the other host (RANDOM balancer, and ring hash by attempt number)', async () => {
    for (let i = 0; i < 40; i++) {
      const id = newId();
      const r = await get(port, '/prev', { 'x-test-id': id, 'x-fail-backend': 's1' });
      assert.equal(r.status, 200, `request ${i}: ${r.body}`);
      assert.equal(JSON.parse(r.body).backend, 's2');
    }
    // Ring hash: keys whose hash lands on the failing host must be retried on the other one.
    // As in Envoy, a host-selection retry takes the ring entry `attempt` places further on,
    // which may belong to the same host: host_selection_retry_max_attempts is 100 here.
    let onS1 = 0;
    for (let i = 0; i < 20; i++) {
      const id = newId();
      const r = await get(port, '/hashprev', { 'x-test-id': id, 'x-user': `user-${i}`, 'x-fail-backend': 's1' });
      assert.equal(r.status, 200, `user-${i}: ${r.body}`);
      const list = seen.get(id)!;
      if (list[0].backend === 's1') onS1++;
      assert.equal(list[list.length - 1].backend, 's2');
    }
    assert.ok(onS1 > 0, 'some keys hash to s1 first');
  });

  test('per_try_timeout: a stalled first try is abandoned and the retry succeeds on the second host', async () => {
    const before = await proxy.stats();
    let viaSlow = 0;
    for (let i = 0; i < 4; i++) {
      const id = newId();
      const r = await get(port, '/pertry', { 'x-test-id': id, 'x-slow-backend': 's1', 'x-delay-ms': '5000' });
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).backend, 's2');
      if (seen.get(id)![0].backend === 's1') viaSlow++;
    }
    assert.ok(viaSlow >= 1, 'round robin sent some first tries to the slow host');
    const after = await proxy.stats();
    assert.equal(stat(after, 'cluster.two_rr.upstream_rq_per_try_timeout') - stat(before, 'cluster.two_rr.upstream_rq_per_try_timeout'), viaSlow);
    // Without a retry that applies, the per-try timeout answers 504 like Envoy.
    const r = await get(port, '/pertry-alone', { 'x-test-id': newId(), 'x-slow-backend': 's1', 'x-delay-ms': '5000' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
  });

  test('route timeout: 504 "upstream request timeout" and upstream_rq_timeout; max_stream_duration: 408', async () => {
    const before = stat(await proxy.stats(), 'cluster.one.upstream_rq_timeout');
    const r = await get(port, '/timeout', { 'x-test-id': newId(), 'x-slow-backend': 's1', 'x-delay-ms': '5000' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.equal(stat(await proxy.stats(), 'cluster.one.upstream_rq_timeout'), before + 1);
    // x-envoy-upstream-rq-timeout-ms from an internal client replaces the route's timeout;
    // the upstream is told the timeout in x-envoy-expected-rq-timeout-ms, as Envoy does.
    const id1 = newId();
    const r1 = await get(port, '/timeout', { 'x-test-id': id1, 'x-slow-backend': 's1', 'x-delay-ms': '800', 'x-envoy-upstream-rq-timeout-ms': '5000' });
    assert.equal(r1.status, 200);
    assert.deepEqual([seen.get(id1)![0].expected, seen.get(id1)![0].timeoutHeader], ['5000', undefined]);
    const id0 = newId();
    await get(port, '/timeout', { 'x-test-id': id0 });
    assert.equal(seen.get(id0)![0].expected, '300');
    const r2 = await get(port, '/duration', { 'x-test-id': newId(), 'x-slow-backend': 's1', 'x-delay-ms': '5000' });
    assert.equal(r2.status, 408);
    assert.equal(r2.body, 'downstream duration timeout');
  });

  test('max_pending_requests and max_connections overflow: 503 UO, counted, gauges show the open breaker', async () => {
    const slow = { 'x-slow-backend': 's1', 'x-delay-ms': '1500' };
    const first = get(port, '/cbp', { ...slow, 'x-test-id': newId() });
    await waitFor('cluster.cb_pending.upstream_rq_active = 1', async () => stat(await proxy.stats(), 'cluster.cb_pending.upstream_rq_active') === 1, { attempts: 100, intervalMs: 20 });
    const second = get(port, '/cbp', { ...slow, 'x-test-id': newId() });
    await waitFor('cluster.cb_pending.upstream_rq_pending_active = 1', async () => stat(await proxy.stats(), 'cluster.cb_pending.upstream_rq_pending_active') === 1, { attempts: 100, intervalMs: 20 });
    const mid = await proxy.stats();
    assert.equal(stat(mid, 'cluster.cb_pending.circuit_breakers.default.rq_pending_open'), 1);
    assert.equal(stat(mid, 'cluster.cb_pending.circuit_breakers.default.remaining_pending'), 0);
    assert.equal(stat(mid, 'cluster.cb_pending.circuit_breakers.default.cx_open'), 1);
    assert.equal(stat(mid, 'cluster.cb_pending.circuit_breakers.default.remaining_cx'), 0);
    const over = await Promise.all([get(port, '/cbp', { 'x-test-id': newId() }), get(port, '/cbp', { 'x-test-id': newId() })]);
    for (const r of over) {
      assert.equal(r.status, 503);
      assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
    }
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    const st = await proxy.stats();
    assert.equal(stat(st, 'cluster.cb_pending.upstream_rq_pending_overflow'), 2);
    assert.ok(stat(st, 'cluster.cb_pending.upstream_cx_overflow') >= 1);
    assert.equal(stat(st, 'cluster.cb_pending.circuit_breakers.default.rq_pending_open'), 0);
  });

  test('max_requests overflow: 503 UO; the HIGH priority route has its own, larger limit', async () => {
    const first = get(port, '/cbr', { 'x-slow-backend': 's1', 'x-delay-ms': '1000', 'x-test-id': newId() });
    await waitFor('cluster.cb_requests.circuit_breakers.default.rq_open = 1', async () => stat(await proxy.stats(), 'cluster.cb_requests.circuit_breakers.default.rq_open') === 1, { attempts: 100, intervalMs: 20 });
    const r = await get(port, '/cbr', { 'x-test-id': newId() });
    assert.equal(r.status, 503);
    assert.match(r.body, /overflow/);
    const high = await get(port, '/cbhigh', { 'x-test-id': newId() });
    assert.equal(high.status, 200);
    assert.equal((await first).status, 200);
    const st = await proxy.stats();
    assert.equal(stat(st, 'cluster.cb_requests.upstream_rq_pending_overflow'), 1);
    assert.equal(stat(st, 'cluster.cb_requests.circuit_breakers.default.remaining_rq'), 1);
  });

  test('max_retries and retry_budget overflow: the retry is refused and counted', async () => {
    const r = await get(port, '/retrycb', { 'x-test-id': newId(), 'x-fail-times': '1' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'failed by s1');
    const b = await get(port, '/budgetcb', { 'x-test-id': newId(), 'x-fail-times': '1' });
    assert.equal(b.status, 503);
    const st = await proxy.stats();
    assert.equal(stat(st, 'cluster.cb_retries.upstream_rq_retry_overflow'), 1);
    assert.equal(stat(st, 'cluster.cb_budget.upstream_rq_retry_overflow'), 1);
    assert.equal(stat(st, 'cluster.cb_retries.upstream_rq_retry'), 0);
  });

  test('tcp_proxy honours max_connections: the second connection is closed, upstream_cx_overflow counts it', async () => {
    const tp = proxy.port('TCP_LISTENER_PORT');
    const a = net.connect(tp, '127.0.0.1');
    a.on('error', () => undefined);
    trackResource(() => void a.destroy());
    a.write('ping');
    const echoed = await new Promise<string>((r) => a.once('data', (d) => r(d.toString())));
    assert.equal(echoed, 'ping');
    const b = net.connect(tp, '127.0.0.1');
    b.on('error', () => undefined);
    let got = '';
    b.on('data', (d) => (got += d));
    await new Promise<void>((r) => b.once('close', () => r()));
    assert.equal(got, '');
    const st = await proxy.stats();
    assert.equal(stat(st, 'cluster.tcp_cb.upstream_cx_overflow'), 1);
    assert.equal(stat(st, 'cluster.tcp_cb.circuit_breakers.default.cx_open'), 1);
    a.destroy();
  });

  test('gRPC: retry on unavailable (grpc-status in a trailers-only response)', async () => {
    const id = newId();
    const r = await grpcCall(port, 'retry', { 'x-test-id': id, 'x-fail-times': '2' });
    assert.equal(r.code, 0, r.details);
    assert.equal(r.value, 'ok after 3');
    const id2 = newId();
    const r2 = await grpcCall(port, 'retry', { 'x-test-id': id2, 'x-fail-times': '1', 'x-fail-code': String(grpc.status.INTERNAL) });
    assert.equal(r2.code, grpc.status.INTERNAL);
    assert.equal(grpcSeen.get(id2), 1);
  });

  test('gRPC: grpc-timeout capped by grpc_timeout_header_max is DEADLINE_EXCEEDED; max_grpc_timeout caps the route timeout and the upstream grpc-timeout', async () => {
    const id = newId();
    const r = await grpcCall(port, 'deadline', { 'x-test-id': id, 'x-delay-ms': '5000' }, 20_000);
    assert.equal(r.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(r.details, 'downstream duration timeout');
    // grpc_timeout_header_max does not rewrite the header: the server still has the client's 20 s.
    assert.ok(grpcDeadlineLeft.get(id)! > 10_000, String(grpcDeadlineLeft.get(id)));
    // max_grpc_timeout (0.3 s): the route timeout and the grpc-timeout sent upstream both
    // become 300 ms, so either the proxy answers 504 (UNAVAILABLE) or the server, told the
    // shorter deadline, gives up first with DEADLINE_EXCEEDED. Never the 5 s answer.
    const id2 = newId();
    const l = await grpcCall(port, 'legacy', { 'x-test-id': id2, 'x-delay-ms': '5000' }, 20_000);
    assert.ok(l.code === grpc.status.DEADLINE_EXCEEDED || (l.code === grpc.status.UNAVAILABLE && l.details === 'upstream request timeout'), JSON.stringify(l));
    assert.ok(grpcDeadlineLeft.get(id2)! <= 300, String(grpcDeadlineLeft.get(id2)));
  });
});

describe('a backend killed mid-load, with retry_on connect-failure,reset,5xx', () => {
  test('no client sees a failure', async (t) => {
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    const p = await startProxy(`
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http_in', 'LISTENER_PORT', 'kill', routeYaml('/', 'pair', `
                  retry_policy:
                    retry_on: connect-failure,reset,5xx
                    num_retries: 3
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config: { "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate }`))}
  clusters:
  - name: pair
    connect_timeout: 1s
    type: STATIC
    # Envoy's default max_retries (3 retries outstanding cluster-wide) would turn some of the
    # burst of retries when b dies into 503s; a mesh expecting a host to die raises it.
    circuit_breakers: { thresholds: [{ max_retries: 64 }] }
    load_assignment:
      cluster_name: pair
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${a.port} } } }
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
`);
    const lport = p.port('LISTENER_PORT');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    trackResource(() => agent.destroy());
    const TOTAL = 300;
    let next = 0;
    let done = 0;
    let killed = false;
    const statuses = new Map<number, number>();
    const errors: string[] = [];
    const one = (i: number) =>
      new Promise<void>((resolve) => {
        // A POST with a small body too: the body is replayed on a retry.
        const req = http.request({ host: '127.0.0.1', port: lport, path: `/n/${i}`, method: i % 2 ? 'POST' : 'GET', agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            if (res.statusCode !== 200 && errors.length < 5) errors.push(`${i}: ${res.statusCode} ${body.slice(0, 200)}`);
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            resolve();
          });
          res.on('error', (e) => {
            errors.push(`${i}: ${e.message}`);
            resolve();
          });
        });
        req.setTimeout(15_000, () => req.destroy(new Error('client timeout')));
        req.on('error', (e) => {
          errors.push(`${i}: ${e.message}`);
          resolve();
        });
        req.end(i % 2 ? `body ${i}` : undefined);
      });
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        await one(i);
        done++;
        if (!killed && done >= 100) {
          killed = true;
          void b.close(); // destroys its open connections and stops listening, mid-load
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // Every response here is written in one piece, so no request can be past the retry
    // rules (response headers already forwarded) when b dies: none may fail. Requests in
    // flight on b are reset (retry_on reset), later picks of b are refused (connect-failure),
    // and previous_hosts sends each retry to a.
    assert.deepEqual(errors, []);
    assert.deepEqual([...statuses], [[200, TOTAL]]);
    const st = await p.stats();
    assert.ok(stat(st, 'cluster.pair.upstream_rq_retry') >= 1, 'some requests were retried');
    assert.equal(stat(st, 'cluster.pair.upstream_rq_retry_limit_exceeded'), 0);
    assert.equal(stat(st, 'cluster.pair.upstream_rq_retry_overflow'), 0);
    t.diagnostic(`retries ${stat(st, 'cluster.pair.upstream_rq_retry')}, connect failures ${stat(st, 'cluster.pair.upstream_cx_connect_fail')}, upstream resets ${stat(st, 'cluster.pair.upstream_rq_rx_reset')}`);
    await sleep(10);
  });
});
