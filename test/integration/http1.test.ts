// HTTP/1.1 through an http_connection_manager listener, driven with real curl and raw
// sockets. Expected behaviour is Envoy's (route matching in order, direct_response,
// redirect, prefix_rewrite, header manipulation, 404/503/504 local replies, XFF with
// use_remote_address, stats names).
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  HttpBackend,
  Proxy,
  curl,
  curlRaw,
  freePort,
  makeBigFile,
  parseHttp1Responses,
  rawExchange,
  readFixture,
  sampleRss,
  sha256,
  sleep,
  startHttpBackend,
  startProxy,
  tempFile,
  trackSocket,
  waitFor,
} from './harness';

const MB = 1024 * 1024;

let a: HttpBackend;
let b: HttpBackend;
let ka: HttpBackend;
let proxy: Proxy;
let base: string;

function json(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`expected a JSON body from a backend, got: ${body.subarray(0, 300).toString()}`);
  }
}

describe('HTTP/1.1 proxying', () => {
  before(async () => {
    a = await startHttpBackend('a');
    b = await startHttpBackend('b');
    ka = await startHttpBackend('ka');
    proxy = await startProxy(readFixture('http1.yaml'), {
      vars: {
        BACKEND_A_PORT: a.port,
        BACKEND_B_PORT: b.port,
        BACKEND_KA_PORT: ka.port,
        CLOSED_PORT: await freePort(),
      },
    });
    base = `http://127.0.0.1:${proxy.port('LISTENER_PORT')}`;
  });

  test('routes by path prefix to two backends', async () => {
    const ra = await curl([`${base}/a/hello`]);
    assert.equal(ra.status, 200, ra.raw.toString());
    assert.equal(json(ra.body).backend, 'a');
    assert.equal(json(ra.body).url, '/a/hello');
    const rb = await curl([`${base}/b/hello?x=1`]);
    assert.equal(rb.status, 200);
    assert.equal(json(rb.body).backend, 'b');
    assert.equal(json(rb.body).url, '/b/hello?x=1');
  });

  test('routes by an exact header match, falling through to the next route otherwise', async () => {
    const canary = await curl(['-H', 'x-canary: yes', `${base}/hdr/x`]);
    assert.equal(canary.status, 200);
    assert.equal(json(canary.body).backend, 'b');
    const other = await curl(['-H', 'x-canary: no', `${base}/hdr/x`]);
    assert.equal(json(other.body).backend, 'a');
    const none = await curl([`${base}/hdr/x`]);
    assert.equal(json(none.body).backend, 'a');
  });

  test('direct_response answers without a backend', async () => {
    const before = a.requests.length + b.requests.length;
    const r = await curl([`${base}/direct`]);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from direct_response\n');
    assert.equal(a.requests.length + b.requests.length, before, 'no backend may see a direct_response request');
  });

  test('redirect answers 301 with a Location carrying the new path', async () => {
    const r = await curl([`${base}/old-place`]);
    assert.equal(r.status, 301);
    const loc = r.headers['location'];
    assert.ok(loc, 'redirect needs a Location header');
    assert.equal(new URL(loc, base).pathname, '/new-place', `Location: ${loc}`);
  });

  test('prefix_rewrite is visible in the URL the backend receives', async () => {
    const r = await curl([`${base}/rewrite/some/thing?q=2`]);
    assert.equal(r.status, 200);
    const seen = json(r.body);
    assert.equal(seen.backend, 'b');
    assert.equal(seen.url, '/rewritten/some/thing?q=2');
  });

  test('request_headers_to_add reaches the backend and response_headers_to_add reaches the client', async () => {
    const r = await curl([`${base}/addhdr/x`]);
    assert.equal(r.status, 200);
    assert.equal(json(r.body).headers['x-added-request'], 'from-route');
    assert.equal(r.headers['x-added-response'], 'also-from-route');
  });

  test('no matching route answers 404', async () => {
    const r = await curl([`${base}/nowhere/at/all`]);
    assert.equal(r.status, 404);
  });

  test('a cluster whose only endpoint refuses connections answers 503', async () => {
    const before = await proxy.stats();
    const r = await curl([`${base}/down/x`]);
    assert.equal(r.status, 503, r.raw.toString());
    const after = await proxy.stats();
    assert.ok(
      (after.get('cluster.closed_port.upstream_cx_connect_fail') ?? 0) > (before.get('cluster.closed_port.upstream_cx_connect_fail') ?? 0),
      'cluster.closed_port.upstream_cx_connect_fail should count the failure',
    );
  });

  test('a route timeout shorter than the backend answers 504', async () => {
    const before = await proxy.stats();
    const r = await curl([`${base}/timeout/slow?ms=2000`]);
    assert.equal(r.status, 504, r.raw.toString());
    const after = await proxy.stats();
    assert.ok(
      (after.get('cluster.backend_a.upstream_rq_timeout') ?? 0) > (before.get('cluster.backend_a.upstream_rq_timeout') ?? 0),
      'cluster.backend_a.upstream_rq_timeout should count the timeout',
    );
  });

  test('keep-alive: two URLs in one curl use one downstream and one upstream connection', async () => {
    const connsBefore = ka.connections();
    const r = await curlRaw([
      '-o', '/dev/null', '-o', '/dev/null',
      '-w', '%{http_code} %{num_connects}\n',
      `${base}/ka/one`, `${base}/ka/two`,
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.out.trim().split('\n');
    assert.deepEqual(lines, ['200 1', '200 0'], 'curl should reuse its connection (second num_connects = 0)');
    assert.equal(ka.connections() - connsBefore, 1, 'the backend should see both requests on one connection');
    const last2 = ka.requests.slice(-2);
    assert.deepEqual(last2.map((x) => x.url), ['/ka/one', '/ka/two']);
    assert.equal(last2[0].connection, last2[1].connection);
  });

  test('a chunked request body arrives intact', async () => {
    const content = Buffer.alloc(300_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7 + 3) & 0xff;
    const file = tempFile('chunked.bin', content);
    const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/a/upload`]);
    assert.equal(r.status, 200, r.raw.subarray(0, 500).toString());
    const seen = json(r.body);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.bodyLength, content.length);
    assert.equal(seen.bodySha256, sha256(content));
  });

  test('Expect: 100-continue upload gets a 100 Continue and the body arrives intact', async () => {
    const { file, sha256: sum } = makeBigFile(2 * MB, 'expect.bin');
    // A long --expect100-timeout: curl must not give up waiting and send the body anyway.
    const r = await curl([
      '-H', 'Expect: 100-continue', '--expect100-timeout', '30',
      '--data-binary', `@${file}`, `${base}/a/upload`,
    ]);
    assert.equal(r.status, 200, r.raw.subarray(0, 500).toString());
    assert.ok(r.interim.some((i) => i.status === 100), 'curl should have received 100 Continue');
    const seen = json(r.body);
    assert.equal(seen.bodyLength, 2 * MB);
    assert.equal(seen.bodySha256, sum);
  });

  test('pipelined requests on one connection are answered in order', async () => {
    const port = proxy.port('LISTENER_PORT');
    const req =
      'GET /a/first HTTP/1.1\r\nHost: pipeline\r\n\r\n' +
      'GET /b/second HTTP/1.1\r\nHost: pipeline\r\nConnection: close\r\n\r\n';
    const r = await rawExchange(port, req, { timeoutMs: 10_000 });
    assert.ok(!r.timedOut, `the proxy should close after the Connection: close request; got ${r.data.toString().slice(0, 500)}`);
    const responses = parseHttp1Responses(r.data);
    assert.equal(responses.length, 2, r.data.toString().slice(0, 1000));
    assert.deepEqual(responses.map((x) => x.status), [200, 200]);
    assert.equal(json(responses[0].body).url, '/a/first');
    assert.equal(json(responses[1].body).url, '/b/second');
  });

  test('the backend sees x-request-id, x-forwarded-for and x-forwarded-proto', async () => {
    const r = await curl(['-H', 'x-forwarded-for: 10.1.2.3', `${base}/a/xff`]);
    const h = json(r.body).headers;
    assert.match(String(h['x-request-id'] ?? ''), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    // use_remote_address: true -> Envoy appends the downstream peer address.
    assert.deepEqual(String(h['x-forwarded-for']).split(/\s*,\s*/), ['10.1.2.3', '127.0.0.1']);
    assert.equal(h['x-forwarded-proto'], 'http');
    const r2 = await curl([`${base}/a/xff2`]);
    const h2 = json(r2.body).headers;
    assert.equal(h2['x-forwarded-for'], '127.0.0.1');
    assert.notEqual(h2['x-request-id'], h['x-request-id'], 'each request gets its own x-request-id');
  });

  test('a 100 MB upload and a 100 MB download stream through with bounded proxy memory', async () => {
    const size = 100 * MB;
    const { file, sha256: sum } = makeBigFile(size, 'upload-100m.bin');
    const baseline = proxy.rss();
    const sampler = sampleRss(proxy.pid);
    let peak = 0;
    try {
      const up = await curl(['--data-binary', `@${file}`, '-H', 'content-type: application/octet-stream', `${base}/big/sink`], {
        timeoutMs: 120_000,
      });
      assert.equal(up.status, 200, up.raw.subarray(0, 500).toString());
      const seen = json(up.body);
      assert.equal(seen.bodyLength, size);
      assert.equal(seen.bodySha256, sum);
      fs.rmSync(file);

      const down = await curlRaw(['-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${base}/big/bytes/${size}`]);
      assert.equal(down.exitCode, 0, down.stderr);
      assert.equal(down.out.trim(), `200 ${size}`);
    } finally {
      peak = sampler.stop();
    }
    // Calibration: a plain node:http pipe proxy (req.pipe/res.pipe) peaks around +40 MB here,
    // from garbage not yet collected; a proxy that holds a whole 100 MB body goes past +100 MB.
    const growth = peak - baseline;
    assert.ok(growth < 70 * MB, `proxy RSS grew by ${(growth / MB).toFixed(1)} MB while streaming 100 MB (must stay well below)`);
  });

  test('a slow reader does not make the proxy buffer the whole response', async () => {
    // Loopback socket buffers here can hold tens of MB (tcp_rmem max is 32 MB), so the
    // response must be much larger than what the kernel can absorb on both hops for a
    // proxy without backpressure to show up in its memory.
    const size = 200 * MB;
    const port = proxy.port('LISTENER_PORT');
    const baseline = proxy.rss();
    const sampler = sampleRss(proxy.pid);
    const sock = trackSocket(net.connect({ port, host: '127.0.0.1' }));
    let received = 0;
    let headerDone = false;
    let head = Buffer.alloc(0);
    let ended = false;
    sock.on('data', (d: Buffer) => {
      if (!headerDone) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        headerDone = true;
        received += head.length - i - 4;
        head = head.subarray(0, i);
      } else received += d.length;
    });
    sock.on('end', () => (ended = true));
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET /big/bytes/${size} HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n`);
    // Bounded but generous (a shared CI machine); on failure, show what the proxy saw.
    try {
      await waitFor('the first response bytes', () => headerDone, { attempts: 300 });
    } catch (e) {
      const stats = (await proxy.admin('/stats?filter=backend_a|ingress_http')).body;
      throw new Error(`${(e as Error).message}\nproxy stats:\n${stats}\nproxy stderr:\n${proxy.stderr().slice(-2000)}`);
    }
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 200/);

    // Stop reading entirely: a proxy that honours backpressure stops reading from the
    // backend once socket buffers fill; one that does not would pull it all into memory.
    sock.pause();
    await sleep(2000);
    const rec = a.requests.filter((r) => r.url === `/big/bytes/${size}`).at(-1);
    assert.ok(rec, 'the backend should have seen the request');
    const pausedPeak = sampler.peak();
    assert.ok(
      rec.bytesWritten < size,
      `with the client not reading, the backend should be held back by backpressure (it wrote ${rec.bytesWritten} of ${size})`,
    );
    // Now read slowly for a while, then fast, and check every byte arrives.
    for (let i = 0; i < 10; i++) {
      sock.resume();
      await sleep(50);
      sock.pause();
      await sleep(100);
    }
    sock.resume();
    await waitFor('the whole body', () => ended || received >= size, { attempts: 600 });
    const peak = sampler.stop();
    sock.destroy();
    assert.equal(received, size);
    const growth = Math.max(pausedPeak, peak) - baseline;
    assert.ok(growth < 64 * MB, `proxy RSS grew by ${(growth / MB).toFixed(1)} MB for a 200 MB response to a slow reader`);
  });

  test('a client that disconnects mid-request does not hurt the proxy', async () => {
    const port = proxy.port('LISTENER_PORT');
    // 1: disconnect in the middle of a request body.
    await new Promise<void>((resolve) => {
      const s = trackSocket(net.connect({ port, host: '127.0.0.1' }, () => {
        s.write('POST /a/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
        s.write(Buffer.alloc(10_000, 1), () => setTimeout(() => (s.destroy(), resolve()), 100));
      }));
      s.on('error', () => resolve());
    });
    // 2: disconnect while the backend is still working on the answer.
    await new Promise<void>((resolve) => {
      const s = trackSocket(net.connect({ port, host: '127.0.0.1' }, () => {
        s.write('GET /a/slow?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n');
        setTimeout(() => (s.destroy(), resolve()), 200);
      }));
      s.on('error', () => resolve());
    });
    await sleep(200);
    assert.ok(proxy.isRunning(), `the proxy died:\n${proxy.stderr().slice(-3000)}`);
    const r = await curl([`${base}/a/after-disconnect`]);
    assert.equal(r.status, 200);
    assert.equal(json(r.body).url, '/a/after-disconnect');
  });

  test('a garbage request line gets 400, and the proxy keeps serving', async () => {
    const r = await rawExchange(proxy.port('LISTENER_PORT'), 'THIS IS NOT HTTP AT ALL\r\n\r\n', { timeoutMs: 5000 });
    assert.match(r.data.toString('latin1'), /^HTTP\/1\.1 400 /, `got: ${JSON.stringify(r.data.toString('latin1').slice(0, 200))}`);
    const ok = await curl([`${base}/a/after-garbage`]);
    assert.equal(ok.status, 200);
  });

  test('request headers larger than max_request_headers_kb get 431', async () => {
    const big = 'x'.repeat(12 * 1024); // the listener allows 8 KiB
    const r = await curl(['-H', `x-big: ${big}`, `${base}/a/too-big`]);
    assert.equal(r.status, 431, r.raw.subarray(0, 300).toString());
    const ok = await curl([`${base}/a/after-big`]);
    assert.equal(ok.status, 200);
  });

  test('admin /stats and /clusters count the requests', async () => {
    const before = await proxy.stats();
    for (let i = 0; i < 3; i++) assert.equal((await curl([`${base}/a/count`])).status, 200);
    const after = await proxy.stats();
    const delta = (name: string) => (after.get(name) ?? NaN) - (before.get(name) ?? 0);
    assert.ok(delta('http.ingress_http.downstream_rq_2xx') >= 3, 'http.ingress_http.downstream_rq_2xx');
    assert.ok(delta('cluster.backend_a.upstream_rq_total') >= 3, 'cluster.backend_a.upstream_rq_total');

    const clusters = await proxy.admin('/clusters');
    assert.equal(clusters.status, 200);
    const line = clusters.body
      .split('\n')
      .find((l) => l.startsWith(`backend_a::127.0.0.1:${a.port}::rq_total::`));
    assert.ok(line, `/clusters should list backend_a's host with rq_total:\n${clusters.body.slice(0, 2000)}`);
    assert.ok(Number(line.split('::').at(-1)) >= 3, line);
  });
});
