// HttpConnectionManager options as a user sees them: real curl (or a raw socket where curl
// can't do it) through one proxy whose listeners each set one option (fixture
// test/fixtures/hcm_options.yaml; the `plain` listener keeps Envoy's defaults and is the
// control). Expected behaviour is Envoy's, from the HttpConnectionManager,
// HttpProtocolOptions, Http1ProtocolOptions and RouteAction docs:
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/protocol.proto
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  HttpBackend,
  ParsedResponse,
  Proxy,
  curl,
  parseHttp1Responses,
  rawExchange,
  readFixture,
  sleep,
  startHttpBackend,
  startProxy,
  trackSocket,
} from './harness';

let backend: HttpBackend;
let proxy: Proxy;

function url(listener: string, path: string): string {
  return `http://127.0.0.1:${proxy.port(listener)}${path}`;
}

function json(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error(`expected a JSON body from the backend, got: ${body.subarray(0, 300).toString()}`);
  }
}

/** Requests the backend has seen whose URL contains `marker`. */
function seenAtBackend(marker: string): number {
  return backend.requests.filter((r) => r.url.includes(marker)).length;
}

/** Length of the first complete HTTP/1.1 response in buf (Content-Length or chunked), or -1. */
function firstResponseLength(buf: Buffer): number {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return -1;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const bodyStart = end + 4;
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return bodyStart;
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const total = bodyStart + Number(cl[1]);
    return buf.length >= total ? total : -1;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const last = buf.indexOf('\r\n0\r\n\r\n', bodyStart - 2);
    return last < 0 ? -1 : last + 7;
  }
  return -1; // delimited by close: not complete until the peer closes
}

/** True once buf holds one complete response. */
const oneResponse = (b: Buffer) => firstResponseLength(b) >= 0;

/**
 * One keep-alive client connection over a raw socket: send a request, read exactly one
 * response, and see whether (and when) the proxy closes the connection.
 */
class RawConn {
  private buf = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const onClose = () => {
      this.closed = true;
      this.wake?.();
    };
    sock.on('end', onClose);
    sock.on('close', onClose);
    sock.on('error', onClose);
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = trackSocket(net.connect({ port, host: '127.0.0.1' }));
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  /** Waits (at most timeoutMs) until cond() holds; returns cond(). */
  private async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(200, Math.max(1, deadline - Date.now())));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    return cond();
  }

  /** Sends a GET and returns the one response to it. */
  async get(path: string, host = 'raw.test', timeoutMs = 10_000): Promise<ParsedResponse> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const ok = await this.until(() => firstResponseLength(this.buf) >= 0 || this.closed, timeoutMs);
    const n = firstResponseLength(this.buf);
    if (!ok || n < 0) {
      throw new Error(`no complete response to GET ${path} (closed=${this.closed}); got ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
    }
    const [res] = parseHttp1Responses(this.buf.subarray(0, n), 1);
    this.buf = this.buf.subarray(n);
    return res;
  }

  /** Resolves true if the proxy closes the connection within timeoutMs. */
  waitClose(timeoutMs: number): Promise<boolean> {
    return this.until(() => this.closed, timeoutMs);
  }

  /** Bytes received beyond the responses already read. */
  extra(): string {
    return this.buf.toString('latin1');
  }
}

describe('HttpConnectionManager options', () => {
  before(async () => {
    backend = await startHttpBackend('backend');
    proxy = await startProxy(readFixture('hcm_options.yaml'), { vars: { BACKEND_PORT: backend.port } });
  });

  // ---------------------------------------------------------------- http_protocol_options

  test('accept_http_10 false (the default): an HTTP/1.0 request gets 426 and never reaches the backend', async () => {
    const r = await curl(['--http1.0', '-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/ten-default')]);
    assert.equal(r.status, 426, r.raw.toString());
    assert.equal(seenAtBackend('/ten-default'), 0, 'a rejected HTTP/1.0 request must not be forwarded');
    // Control: the same request as HTTP/1.1 is served.
    const ok = await curl(['-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/eleven-default')]);
    assert.equal(ok.status, 200, ok.raw.toString());
  });

  test('accept_http_10 true + default_host_for_http_10: a Host-less HTTP/1.0 request is routed by the default host', async () => {
    // `-H 'Host:'` makes curl send no Host header at all.
    const r = await curl(['--http1.0', '-H', 'Host:', url('LISTENER_HTTP10_PORT', '/ten')]);
    assert.equal(r.status, 200, r.raw.toString());
    const seen = json(r.body);
    assert.equal(seen.url, '/ten');
    assert.equal(seen.headers.host, 'legacy.example', 'the backend should see the default host');
  });

  // ---------------------------------------------------------------- headers_with_underscores_action

  test('headers_with_underscores_action REJECT_REQUEST: a header with an underscore gets 400', async () => {
    const r = await curl(['-H', 'x_under: 1', '-H', 'x-normal: 2', url('LISTENER_US_REJECT_PORT', '/underscore-reject')]);
    assert.equal(r.status, 400, r.raw.toString());
    assert.equal(seenAtBackend('/underscore-reject'), 0, 'a rejected request must not be forwarded');
    // Control: the default (ALLOW) forwards the header.
    const allow = await curl(['-H', 'Host: example.com', '-H', 'x_under: 1', url('LISTENER_PLAIN_PORT', '/underscore-allow')]);
    assert.equal(allow.status, 200, allow.raw.toString());
    assert.equal(json(allow.body).headers['x_under'], '1');
  });

  test('headers_with_underscores_action DROP_HEADER: the header is missing at the backend, others arrive', async () => {
    const r = await curl(['-H', 'x_under: 1', '-H', 'x-normal: 2', url('LISTENER_US_DROP_PORT', '/underscore-drop')]);
    assert.equal(r.status, 200, r.raw.toString());
    const h = json(r.body).headers;
    assert.equal(h['x_under'], undefined, 'x_under should have been dropped');
    assert.equal(h['x-normal'], '2');
  });

  // ---------------------------------------------------------------- headers the HCM adds

  test('via: the backend sees Via on the request and the client sees it on the response', async () => {
    const r = await curl([url('LISTENER_VIA_PORT', '/via')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).headers['via'], 'switchyard-test');
    assert.equal(r.headers['via'], 'switchyard-test');
    // Control: no via configured, no Via either way.
    const plain = await curl(['-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/no-via')]);
    assert.equal(json(plain.body).headers['via'], undefined);
    assert.equal(plain.headers['via'], undefined);
  });

  test('always_set_request_id_in_response: the response carries the x-request-id the backend saw', async () => {
    const r = await curl([url('LISTENER_REQID_PORT', '/rid')]);
    assert.equal(r.status, 200, r.raw.toString());
    const seen = json(r.body).headers['x-request-id'];
    assert.ok(seen, 'the backend should see a generated x-request-id');
    assert.equal(r.headers['x-request-id'], seen);
    // Control: by default the request id is not copied onto the response.
    const plain = await curl(['-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/rid-plain')]);
    assert.ok(json(plain.body).headers['x-request-id']);
    assert.equal(plain.headers['x-request-id'], undefined);
  });

  test('strip_any_host_port: Host example.com:1234 matches the virtual host for example.com', async () => {
    const r = await curl(['-H', 'Host: example.com:1234', url('LISTENER_STRIP_PORT', '/strip')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).headers.host, 'example.com', 'the port is removed before routing and forwarding');
    // Without the option the port takes part in virtual-host matching: no match, 404.
    const plain = await curl(['-H', 'Host: example.com:1234', url('LISTENER_PLAIN_PORT', '/strip')]);
    assert.equal(plain.status, 404, plain.raw.toString());
  });

  test('append_x_forwarded_port: the backend sees x-forwarded-port = the listener port', async () => {
    const r = await curl([url('LISTENER_XFPORT_PORT', '/xfp')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).headers['x-forwarded-port'], String(proxy.port('LISTENER_XFPORT_PORT')));
    const plain = await curl(['-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/xfp-plain')]);
    assert.equal(json(plain.body).headers['x-forwarded-port'], undefined);
  });

  // ---------------------------------------------------------------- stream timeouts

  test('request_timeout: a request body that stalls gets 408', async () => {
    const port = proxy.port('LISTENER_REQTIMEOUT_PORT');
    const head = 'POST /stalled-body HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n';
    const r = await rawExchange(port, head + 'only part of it', { until: oneResponse, timeoutMs: 10_000 });
    assert.ok(!r.timedOut, `no response to a stalled request within 10 s: ${JSON.stringify(r.data.toString())}`);
    const [res] = parseHttp1Responses(r.data, 1);
    assert.ok(res, `no response: ${JSON.stringify(r.data.toString())}`);
    assert.equal(res.status, 408, r.data.toString());
  });

  test('stream_idle_timeout: no response headers before the timeout gets 408', async () => {
    const r = await curl([url('LISTENER_STREAMIDLE_PORT', '/idle/slow?ms=3000')]);
    assert.equal(r.status, 408, r.raw.toString());
  });

  test("a route's idle_timeout overrides a long stream_idle_timeout, on that route only", async () => {
    const short = await curl([url('LISTENER_ROUTEIDLE_PORT', '/short/slow?ms=3000')]);
    assert.equal(short.status, 408, short.raw.toString());
    // Same backend, same kind of wait, on a route that keeps the listener's 60 s.
    const long = await curl([url('LISTENER_ROUTEIDLE_PORT', '/long/slow?ms=1500')]);
    assert.equal(long.status, 200, long.raw.toString());
    assert.equal(json(long.body).url, '/long/slow?ms=1500');
  });

  test('request_headers_timeout: half a request head then nothing gets 408 and the connection closes', async () => {
    const port = proxy.port('LISTENER_HDRTIMEOUT_PORT');
    const r = await rawExchange(port, 'GET /half-head HTTP/1.1\r\nHost: t\r\n', { timeoutMs: 10_000 });
    assert.ok(!r.timedOut, `the proxy should answer and close within 10 s; got ${JSON.stringify(r.data.toString())}`);
    assert.ok(r.closed);
    const [res] = parseHttp1Responses(r.data, 1);
    assert.ok(res, `no response before the close: ${JSON.stringify(r.data.toString())}`);
    assert.equal(res.status, 408, r.data.toString());
    assert.equal(seenAtBackend('/half-head'), 0);
    // Control: a whole head on the same listener is served.
    const ok = await curl([url('LISTENER_HDRTIMEOUT_PORT', '/whole-head')]);
    assert.equal(ok.status, 200, ok.raw.toString());
  });

  // ---------------------------------------------------------------- connection lifetime

  test('max_requests_per_connection 2: the 2nd response carries connection: close and the connection closes', async () => {
    const c = await RawConn.open(proxy.port('LISTENER_MAXREQ_PORT'));
    const first = await c.get('/maxreq/1');
    assert.equal(first.status, 200);
    assert.notEqual((first.headers['connection'] ?? '').toLowerCase(), 'close', 'the 1st response must keep the connection');
    const second = await c.get('/maxreq/2');
    assert.equal(second.status, 200);
    assert.equal((second.headers['connection'] ?? '').toLowerCase(), 'close', 'the 2nd response should carry connection: close');
    assert.ok(await c.waitClose(5000), 'the proxy should close the connection after the 2nd response');
    assert.equal(c.extra(), '');
    assert.equal(seenAtBackend('/maxreq/'), 2);
  });

  test('max_connection_duration 1s: an idle keep-alive connection is closed once it is reached', async () => {
    // Envoy: "When max_connection_duration is reached and if there are no active streams,
    // the connection will be closed."
    const c = await RawConn.open(proxy.port('LISTENER_MAXDUR_PORT'));
    const r = await c.get('/maxdur/1');
    assert.equal(r.status, 200);
    assert.notEqual((r.headers['connection'] ?? '').toLowerCase(), 'close');
    if (!(await c.waitClose(8000))) {
      // Say what the proxy does instead (for the failure message only).
      let next = 'no response';
      try {
        const r2 = await c.get('/maxdur/2', 'raw.test', 5000);
        next = `${r2.status}, connection: ${r2.headers['connection'] ?? '(none)'}`;
      } catch (e) {
        next = String(e);
      }
      assert.fail(`an idle connection 8 s past max_connection_duration (1s) is still open; a next request on it got: ${next}`);
    }
    assert.equal(c.extra(), '');
  });

  test('idle_timeout 0.5s: an idle keep-alive connection is closed by the proxy', async () => {
    const c = await RawConn.open(proxy.port('LISTENER_CONNIDLE_PORT'));
    const r = await c.get('/connidle/1');
    assert.equal(r.status, 200);
    assert.notEqual((r.headers['connection'] ?? '').toLowerCase(), 'close');
    assert.ok(await c.waitClose(5000), 'an idle connection should be closed after idle_timeout');
    assert.equal(c.extra(), '');
  });

  test('control: with the defaults a keep-alive connection idle for 1.5 s still serves the next request', async () => {
    const c = await RawConn.open(proxy.port('LISTENER_PLAIN_PORT'));
    const r1 = await c.get('/ka-control/1', 'example.com');
    assert.equal(r1.status, 200);
    await sleep(1500);
    assert.ok(!c.closed, 'the default idle_timeout is 1 hour');
    const r2 = await c.get('/ka-control/2', 'example.com');
    assert.equal(r2.status, 200);
    assert.equal(json(r1.body).connection, json(r2.body).connection);
  });

  // ---------------------------------------------------------------- routing-related options

  test('auto_host_rewrite to a STRICT_DNS cluster: the backend sees the endpoint hostname as Host', async () => {
    // Envoy swaps Host for the upstream host's hostname (the DNS name, without the port).
    const auto = await curl(['-H', 'Host: client.example', url('LISTENER_AUTOHOST_PORT', '/auto/x')]);
    assert.equal(auto.status, 200, auto.raw.toString());
    assert.equal(json(auto.body).headers.host, 'localhost');
    const keep = await curl(['-H', 'Host: client.example', url('LISTENER_AUTOHOST_PORT', '/keep/x')]);
    assert.equal(keep.status, 200, keep.raw.toString());
    assert.equal(json(keep.body).headers.host, 'client.example', 'without auto_host_rewrite the client Host passes through');
  });

  test('normalize_path + merge_slashes: /a/../b//c is routed and forwarded as /b/c', async () => {
    const r = await curl(['--path-as-is', url('LISTENER_NORMALIZE_PORT', '/a/../b//c')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(json(r.body).url, '/b/c');
    // Control: without normalisation the raw path matches the /a/ route.
    const plain = await curl(['--path-as-is', '-H', 'Host: example.com', url('LISTENER_PLAIN_PORT', '/a/../b//c')]);
    assert.equal(plain.status, 418, plain.raw.toString());
  });

  test('max_request_headers_kb 1: a request with a 2 KB header gets 431', async () => {
    const big = 'x-big: ' + 'a'.repeat(2048);
    const r = await curl(['-H', big, url('LISTENER_SMALLHDR_PORT', '/bighdr')]);
    assert.equal(r.status, 431, r.raw.toString());
    assert.equal(seenAtBackend('/bighdr'), 0);
    // Control: the default limit (60 KB) lets it through intact.
    const plain = await curl(['-H', 'Host: example.com', '-H', big, url('LISTENER_PLAIN_PORT', '/bighdr-plain')]);
    assert.equal(plain.status, 200, plain.raw.toString());
    assert.equal(json(plain.body).headers['x-big'], 'a'.repeat(2048));
  });

  // ---------------------------------------------------------------- Server header

  test('server_name custom: the response says server: custom, even over the backend own Server', async () => {
    const r = await curl([url('LISTENER_SERVERNAME_PORT', '/srv')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(r.headers['server'], 'custom');
    const over = await curl(['-H', 'x-backend-set-header: server=backend-own', url('LISTENER_SERVERNAME_PORT', '/srv2')]);
    assert.equal(over.headers['server'], 'custom');
  });

  test('server_header_transformation PASS_THROUGH keeps the backend Server header (and adds none)', async () => {
    const r = await curl(['-H', 'x-backend-set-header: server=backend-own', url('LISTENER_SERVERPASS_PORT', '/pass')]);
    assert.equal(r.status, 200, r.raw.toString());
    assert.equal(r.headers['server'], 'backend-own');
    const none = await curl([url('LISTENER_SERVERPASS_PORT', '/pass-none')]);
    assert.equal(none.headers['server'], undefined, 'PASS_THROUGH must not add a Server header');
    // Control: the default (OVERWRITE, server_name "envoy") replaces it.
    const plain = await curl(['-H', 'Host: example.com', '-H', 'x-backend-set-header: server=backend-own', url('LISTENER_PLAIN_PORT', '/pass-plain')]);
    assert.equal(plain.headers['server'], 'envoy');
  });
});
