// The HTTP/2 codecs driven directly over real sockets: the downstream server codec against
// node:http2, curl and nghttp clients; the upstream pool against a real node:http2 server.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startH2ServerConnection, type H2ServerConfig, type H2ServerConnection } from '../../src/http/h2/server';
import { HeaderMap } from '../../src/http/headers';
import type { DownstreamStream, RequestHead, ResetReason, ResponseHead, UpstreamResponseSink, UpstreamStream } from '../../src/http/stream';
import { StatsStore } from '../../src/telemetry/stats';
import { ClusterStats } from '../../src/upstream/cluster_stats';
import { ClusterResources, defaultThresholds } from '../../src/upstream/circuit_breakers';
import { H2Pool } from '../../src/upstream/h2_pool';
import { Host } from '../../src/upstream/host';

const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

function hdrs(pairs: Record<string, string>): HeaderMap {
  const h = new HeaderMap();
  for (const [k, v] of Object.entries(pairs)) h.add(k, v);
  return h;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** What the test saw of one downstream request, with a promise for its end. */
class Seen {
  body: Buffer[] = [];
  trailers: HeaderMap | null = null;
  reset: ResetReason | null = null;
  drains = 0;
  readonly ended: Promise<void>;
  readonly wasReset: Promise<ResetReason>;
  private endNow!: () => void;
  private resetNow!: (r: ResetReason) => void;
  constructor(readonly s: DownstreamStream) {
    this.ended = new Promise((r) => (this.endNow = r));
    this.wasReset = new Promise((r) => (this.resetNow = r));
    if (s.requestEnded) this.endNow();
    s.sink = {
      onRequestData: (c, end) => {
        this.body.push(c);
        if (end) this.endNow();
      },
      onRequestTrailers: (t) => {
        this.trailers = t;
        this.endNow();
      },
      onDownstreamReset: (r) => {
        this.reset = r;
        this.resetNow(r);
      },
      onDownstreamDrain: () => this.drains++,
    };
  }
}

/** A net server whose sockets go to the codec; `sniff` hands over the first bytes as `initial`. */
async function codecServer(onStream: (seen: Seen) => void, sniff = false, config: H2ServerConfig = { maxRequestHeadersKb: 60 }) {
  const conns: H2ServerConnection[] = [];
  let closed = 0;
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    const go = (initial: Buffer | null) =>
      conns.push(
        startH2ServerConnection(sock, initial, {
          config,
          onStream: (s) => onStream(new Seen(s)),
          onClose: () => closed++,
        }),
      );
    if (!sniff) return go(null);
    sock.once('data', (d: Buffer) => {
      sock.pause();
      go(d);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => {
    for (const c of conns) c.close();
    srv.close();
  });
  const port = (srv.address() as net.AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, conns, closedCount: () => closed };
}

/** Echo: 201 with the request body, its length and trailers (as grpc-status would come). */
function echo(seen: Seen): void {
  void seen.ended.then(() => {
    const s = seen.s;
    const body = Buffer.concat(seen.body);
    s.sendHeaders({ status: 201, headers: hdrs({ 'x-method': s.head.method, 'x-path': s.head.path, 'x-len': String(body.length) }) }, false);
    s.sendData(body, false);
    s.sendTrailers(hdrs({ 'x-trailer': 'yes', 'x-req-trailer': seen.trailers?.get('x-rt') ?? 'none' }));
  });
}

function h2Request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, trailers?: http2.OutgoingHttpHeaders) {
  const req = client.request(headers, { endStream: body === undefined && trailers === undefined, waitForTrailers: trailers !== undefined });
  if (trailers) req.on('wantTrailers', () => req.sendTrailers(trailers));
  if (body !== undefined || trailers) req.end(body);
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders | null }>((resolve, reject) => {
    let h: http2.IncomingHttpHeaders = {};
    let t: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (x) => (h = x));
    req.on('trailers', (x) => (t = x));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers: h, body: Buffer.concat(chunks), trailers: t }));
    req.on('error', reject);
  });
}

describe('downstream HTTP/2 codec', () => {
  for (const sniff of [false, true]) {
    test(`node:http2 client: body and trailers both ways${sniff ? ' (preface already read by sniffing)' : ''}`, async () => {
      let head: RequestHead | undefined;
      const srv = await codecServer((seen) => {
        head = seen.s.head;
        echo(seen);
      }, sniff);
      const client = http2.connect(srv.url);
      cleanups.push(() => client.destroy());
      const r = await h2Request(
        client,
        { ':method': 'POST', ':path': '/svc/Call?q=1', cookie: ['a=1', 'b=2'], 'x-multi': ['1', '2'] },
        Buffer.from('request body'),
        { 'x-rt': 'req-trailer' },
      );
      assert.equal(r.headers[':status'], 201);
      assert.equal(r.headers['x-len'], '12');
      assert.equal(r.body.toString(), 'request body');
      assert.equal(r.trailers?.['x-trailer'], 'yes');
      assert.equal(r.trailers?.['x-req-trailer'], 'req-trailer');
      assert.equal(head?.method, 'POST');
      assert.equal(head?.path, '/svc/Call?q=1');
      assert.equal(head?.authority, `127.0.0.1:${srv.port}`);
      assert.equal(head?.scheme, 'http');
      assert.equal(head?.protocol, 'HTTP/2');
      assert.ok(!head!.headers.names.some((n) => n.startsWith(':')), 'no pseudo-headers in the map');
      assert.equal(head?.headers.get('cookie'), 'a=1; b=2', 'cookie crumbs joined (RFC 9113 §8.2.3)');
      assert.equal(head?.headers.getJoined('x-multi'), '1,2');
      // A second request on the same connection (GET: no body, ends with its HEADERS).
      const g = await h2Request(client, { ':path': '/get' });
      assert.equal(g.headers['x-method'], 'GET');
      assert.equal(g.headers['x-len'], '0');
    });
  }

  test('curl --http2-prior-knowledge: GET, POST body, response trailers', async () => {
    const srv = await codecServer(echo);
    const body = Buffer.alloc(200_000, 7);
    const dir = mkdtempSync(join(tmpdir(), 'h2codec-'));
    writeFileSync(join(dir, 'body.bin'), body);
    const g = await run('curl', ['-sS', '-v', '--http2-prior-knowledge', `${srv.url}/hello`]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /< HTTP\/2 201/);
    assert.match(g.stderr, /< x-trailer: yes/, 'trailers reach curl');
    const p = await run('curl', ['-sS', '-v', '--http2-prior-knowledge', '--data-binary', `@${join(dir, 'body.bin')}`, `${srv.url}/upload`]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /< x-len: 200000/);
    assert.match(p.stderr, /< x-method: POST/);
  });

  test('nghttp: response headers, body and trailers; request body', async () => {
    const srv = await codecServer(echo);
    const dir = mkdtempSync(join(tmpdir(), 'h2codec-'));
    writeFileSync(join(dir, 'up.txt'), 'uploaded by nghttp');
    const r = await run('nghttp', ['-v', '-d', join(dir, 'up.txt'), `${srv.url}/ng`]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /recv \(stream_id=\d+\) :status: 201/);
    assert.match(r.stdout, /recv \(stream_id=\d+\) x-len: 18/);
    assert.match(r.stdout, /uploaded by nghttp/);
    assert.match(r.stdout, /recv \(stream_id=\d+\) x-trailer: yes/);
  });

  test('RST_STREAM from the client reaches the sink; the connection keeps serving', async () => {
    const seenAll: Seen[] = [];
    const srv = await codecServer((seen) => {
      seenAll.push(seen);
      if (seen.s.head.path === '/ok') echo(seen);
    });
    const client = http2.connect(srv.url);
    cleanups.push(() => client.destroy());
    const req = client.request({ ':method': 'POST', ':path': '/hang' }, { endStream: false });
    req.on('error', () => {});
    req.write('partial');
    while (seenAll.length === 0) await new Promise((r) => setImmediate(r));
    req.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal(await seenAll[0].wasReset, 'remote_reset');
    const ok = await h2Request(client, { ':path': '/ok' });
    assert.equal(ok.headers[':status'], 201);
  });

  test('backpressure: a 20 MB response to a client that does not read', async () => {
    const total = 20 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
    let sent = 0;
    let blocked!: () => void;
    const firstBlock = new Promise<void>((r) => (blocked = r));
    let seen: Seen | undefined;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!seen!.s.sendData(chunk, sent >= total)) {
          blocked();
          return;
        }
      }
    };
    const srv = await codecServer((s) => {
      seen = s;
      s.s.sink!.onDownstreamDrain = () => {
        s.drains++;
        pump();
      };
      s.s.sendHeaders({ status: 200, headers: hdrs({ 'content-length': String(total) }) }, false);
      pump();
    });
    const client = http2.connect(srv.url);
    cleanups.push(() => client.destroy());
    const req = client.request({ ':path': '/big' });
    req.pause();
    await firstBlock;
    // The client reads nothing: the codec must hold the source back, not buffer 20 MB.
    assert.ok(sent < total / 4, `sent ${sent} bytes before backpressure`);
    const hash = createHash('sha256');
    let got = 0;
    req.on('data', (c: Buffer) => {
      got += c.length;
      hash.update(c);
    });
    req.resume();
    await once(req, 'end');
    assert.equal(got, total);
    const expect = createHash('sha256');
    for (let i = 0; i < total / chunk.length; i++) expect.update(chunk);
    assert.equal(hash.digest('hex'), expect.digest('hex'));
    assert.ok(seen!.drains > 0, 'onDownstreamDrain resumed the source');
  });

  test('malformed requests get 400 or RST_STREAM; the connection survives', async () => {
    const srv = await codecServer(echo);
    const sock = net.connect(srv.port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    await once(sock, 'connect');
    const frame = (type: number, flags: number, id: number, payload: Buffer) => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h[4] = flags;
      h.writeUInt32BE(id, 5);
      return Buffer.concat([h, payload]);
    };
    const lit = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
    // HPACK: :method GET (0x82), :path / (0x84), :scheme http (0x86); :authority literal (0x41).
    const noHost = Buffer.from([0x82, 0x84, 0x86]);
    const upper = Buffer.concat([Buffer.from([0x82, 0x84, 0x86, 0x41]), lit('a.test'), Buffer.from([0x00]), lit('X-Bad'), lit('v')]);
    const good = Buffer.concat([Buffer.from([0x82, 0x84, 0x86, 0x41]), lit('a.test')]);
    const frames: Array<{ type: number; id: number; payload: Buffer }> = [];
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        frames.push({ type: buf[3], id: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) });
        buf = buf.subarray(9 + len);
      }
    });
    sock.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    sock.write(frame(4, 0, 0, Buffer.alloc(0)));
    sock.write(frame(1, 0x5, 1, noHost));
    sock.write(frame(1, 0x5, 3, upper));
    sock.write(frame(1, 0x5, 5, good));
    const until = async (pred: () => boolean) => {
      while (!pred()) await once(sock, 'data');
    };
    await until(() => frames.some((f) => f.id === 5 && f.type === 1));
    // nghttp2 itself resets a request without :authority or host; a 400 (HPACK static
    // index 12) from the codec's own check would do as well.
    const h1 = frames.find((f) => f.id === 1 && (f.type === 1 || f.type === 3));
    assert.ok(h1 !== undefined && (h1.type === 3 || h1.payload[0] === 0x8c), 'stream 1 (no :authority, no host): 400 or RST_STREAM');
    const rst3 = frames.find((f) => f.id === 3 && f.type === 3);
    assert.ok(rst3, 'stream 3 (upper-case header name) is reset');
    assert.equal(rst3.payload.readUInt32BE(0), http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const h5 = frames.find((f) => f.id === 5 && f.type === 1);
    assert.ok(h5, 'stream 5 (valid) is answered on the same connection');
  });

  test('http2_protocol_options and idle_timeout from the HCM config', async () => {
    const srv = await codecServer(echo, false, {
      maxRequestHeadersKb: 4,
      idleTimeoutMs: 50,
      http2ProtocolOptions: { max_concurrent_streams: 7, initial_stream_window_size: 100_000 },
    });
    const client = http2.connect(srv.url);
    cleanups.push(() => client.destroy());
    const [settings] = (await once(client, 'remoteSettings')) as [http2.Settings];
    assert.equal(settings.maxConcurrentStreams, 7);
    assert.equal(settings.initialWindowSize, 100_000);
    assert.equal(settings.maxHeaderListSize, 4 * 1024);
    // Headers past max_request_headers_kb: the stream is refused, never answered.
    const big = client.request({ ':path': '/big', 'x-big': 'x'.repeat(8 * 1024) });
    big.on('error', () => {});
    big.on('response', () => assert.fail('an oversized request must not be answered'));
    await new Promise((r2) => big.on('close', r2));
    assert.notEqual(big.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    const r = await h2Request(client, { ':path': '/small' });
    assert.equal(r.headers[':status'], 201);
    // No stream for idle_timeout: GOAWAY, then the connection closes.
    await once(client, 'goaway');
    while (srv.closedCount() === 0) await new Promise((r2) => setTimeout(r2, 10));
  });

  test('drain(): GOAWAY, the open stream still completes, then the connection closes', async () => {
    let pending: Seen | undefined;
    const srv = await codecServer((s) => (pending = s));
    const client = http2.connect(srv.url);
    cleanups.push(() => client.destroy());
    const goaway = once(client, 'goaway');
    const res = h2Request(client, { ':path': '/slow' });
    while (pending === undefined) await new Promise((r) => setImmediate(r));
    srv.conns[0].drain();
    await goaway;
    pending.s.sendHeaders({ status: 200, headers: hdrs({}) }, false);
    pending.s.sendData(Buffer.from('late'), true);
    const r = await res;
    assert.equal(r.body.toString(), 'late');
    while (srv.closedCount() === 0) await new Promise((r2) => setTimeout(r2, 10));
  });
});

// ---------------------------------------------------------------------------------------

/** A router stand-in: takes the pool's stream, sends a request, collects the response. */
class Exchange implements UpstreamResponseSink {
  head: ResponseHead | null = null;
  body: Buffer[] = [];
  trailers: HeaderMap | null = null;
  failure: string | null = null;
  readonly done: Promise<void>;
  private finish!: () => void;
  stream: UpstreamStream | null = null;
  constructor(
    private readonly path: string,
    private readonly reqBody: string | null,
    private readonly reqTrailers: HeaderMap | null = null,
  ) {
    this.done = new Promise((r) => (this.finish = r));
  }
  // PoolClient
  onPoolReady(stream: UpstreamStream): void {
    this.stream = stream;
    const head: RequestHead = { method: this.reqBody === null ? 'GET' : 'POST', path: this.path, authority: 'backend.test', scheme: 'http', protocol: 'HTTP/2', headers: hdrs({ te: 'trailers', connection: 'keep-alive', host: 'ignored' }) };
    const endNow = this.reqBody === null;
    stream.sendHeaders(head, endNow);
    if (!endNow) {
      if (this.reqTrailers !== null) {
        stream.sendData(Buffer.from(this.reqBody!), false);
        stream.sendTrailers(this.reqTrailers);
      } else stream.sendData(Buffer.from(this.reqBody!), true);
    }
  }
  onPoolFailure(reason: ResetReason, detail: string): void {
    this.failure = `${reason}:${detail}`;
    this.finish();
  }
  // UpstreamResponseSink
  onResponseHeaders(head: ResponseHead, end: boolean): void {
    this.head = head;
    if (end) this.finish();
  }
  onResponseData(c: Buffer, end: boolean): void {
    this.body.push(c);
    if (end) this.finish();
  }
  onResponseTrailers(t: HeaderMap): void {
    this.trailers = t;
    this.finish();
  }
  onUpstreamReset(reason: ResetReason, detail?: string): void {
    this.failure = `${reason}:${detail}`;
    this.finish();
  }
  onUpstreamDrain(): void {}
}

async function backend(handler: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void, settings?: http2.Settings) {
  let connections = 0;
  const sessions: http2.ServerHttp2Session[] = [];
  const srv = http2.createServer({ settings });
  srv.on('connection', () => connections++);
  srv.on('session', (s) => sessions.push(s));
  srv.on('stream', (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => {
    s.on('error', () => {});
    handler(s, h);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
    srv.close();
  });
  return { port: (srv.address() as net.AddressInfo).port, connections: () => connections, sessions };
}

function pool(port: number) {
  const store = new StatsStore();
  const stats = new ClusterStats(store, 'b');
  const resources = new ClusterResources({ default: defaultThresholds(), high: defaultThresholds() }, store, 'b');
  const host = new Host('127.0.0.1', port, 1, 'HEALTHY', 0, undefined);
  const p = new H2Pool(host, { connectTimeoutMs: 2000, idleTimeoutMs: 60_000, maxRequestsPerConnection: 0, resources }, stats);
  cleanups.push(() => p.destroy());
  return { p, stats, host };
}

/** Answers with the request's method, path, te and body, and trailers like a gRPC server. */
function grpcLike(s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders): void {
  const chunks: Buffer[] = [];
  let reqTrailers: http2.IncomingHttpHeaders = {};
  s.on('trailers', (t) => (reqTrailers = t));
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('end', () => {
    s.respond({ ':status': 200, 'x-seen': `${h[':method']} ${h[':path']} ${h[':authority']} te=${h.te} host=${h.host ?? '-'} conn=${h.connection ?? '-'}` }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'x-req-trailer': String(reqTrailers['x-rt'] ?? 'none') }));
    s.end(Buffer.concat(chunks));
  });
}

describe('upstream HTTP/2 pool', () => {
  test('unary request/response with trailers both ways', async () => {
    const b = await backend(grpcLike);
    const { p, stats, host } = pool(b.port);
    const x = new Exchange('/pkg.Svc/Call', 'payload', hdrs({ 'x-rt': 'from-client' }));
    p.newStream(x, x);
    await x.done;
    assert.equal(x.failure, null);
    assert.equal(x.head?.status, 200);
    assert.equal(x.head?.headers.get('x-seen'), 'POST /pkg.Svc/Call backend.test te=trailers host=- conn=-');
    assert.equal(Buffer.concat(x.body).toString(), 'payload');
    assert.equal(x.trailers?.get('grpc-status'), '0');
    assert.equal(x.trailers?.get('x-req-trailer'), 'from-client');
    assert.equal(stats.upstream_cx_total.value, 1);
    assert.equal(stats.upstream_cx_http2_total.value, 1);
    assert.equal(stats.upstream_cx_active.value, 1);
    assert.equal(stats.upstream_rq_pending_total.value, 1);
    while (p.activeStreams > 0) await new Promise((r) => setImmediate(r));
    assert.equal(host.stats.rq_active, 0);
    assert.equal(stats.upstream_rq_pending_active.value, 0);
  });

  test('concurrent streams share one TCP connection', async () => {
    const held: http2.ServerHttp2Stream[] = [];
    let release!: () => void;
    const all = new Promise<void>((r) => (release = r));
    const b = await backend((s, h) => {
      // Hold every response until all ten are open at once.
      held.push(s);
      s.resume();
      if (held.length === 10) release();
      void all.then(() => {
        s.respond({ ':status': 200 });
        s.end(String(h[':path']));
      });
    });
    const { p, stats } = pool(b.port);
    const xs = Array.from({ length: 10 }, (_, i) => new Exchange(`/r${i}`, null));
    for (const x of xs) p.newStream(x, x);
    await Promise.all(xs.map((x) => x.done));
    xs.forEach((x, i) => assert.equal(Buffer.concat(x.body).toString(), `/r${i}`));
    assert.equal(b.connections(), 1);
    assert.equal(stats.upstream_cx_total.value, 1);
    // Once connected, a new request goes straight onto the session (no pending).
    const y = new Exchange('/after', null);
    assert.equal(p.newStream(y, y), null);
    await y.done;
    assert.equal(b.connections(), 1);
  });

  test("a second session opens when the first is at the peer's max_concurrent_streams", async () => {
    let open = 0;
    let release!: () => void;
    const four = new Promise<void>((r) => (release = r));
    const b = await backend(
      (s, h) => {
        s.resume();
        if (h[':path'] === '/warm') {
          s.respond({ ':status': 200 });
          return s.end();
        }
        // Answer only once four streams are open at the same time: more than one session allows.
        if (++open === 4) release();
        void four.then(() => {
          s.respond({ ':status': 200 });
          s.end('held');
        });
      },
      { maxConcurrentStreams: 2 },
    );
    const { p, stats } = pool(b.port);
    const warm = new Exchange('/warm', null);
    p.newStream(warm, warm);
    await warm.done; // the peer's SETTINGS (limit 2) are known from here on
    const xs = Array.from({ length: 4 }, (_, i) => new Exchange(`/h${i}`, null));
    for (const x of xs) p.newStream(x, x);
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(Buffer.concat(x.body).toString(), 'held');
    assert.equal(b.connections(), 2);
    assert.equal(stats.upstream_cx_total.value, 2);
  });

  test('connect failure fails every waiting request', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const { p, stats, host } = pool(port);
    const xs = [new Exchange('/a', null), new Exchange('/b', null), new Exchange('/c', null)];
    for (const x of xs) assert.ok(p.newStream(x, x) !== null, 'waits for the connection');
    await Promise.all(xs.map((x) => x.done));
    for (const x of xs) assert.equal(x.failure, 'connect_failure:ECONNREFUSED');
    assert.equal(stats.upstream_cx_connect_fail.value, 1);
    assert.equal(host.stats.cx_connect_fail, 1);
    assert.equal(stats.upstream_cx_active.value, 0);
    assert.equal(stats.upstream_rq_pending_active.value, 0);
  });

  test('after a server GOAWAY the next request succeeds on a new session', async () => {
    const b = await backend(grpcLike);
    const { p, stats } = pool(b.port);
    const x1 = new Exchange('/one', null);
    p.newStream(x1, x1);
    await x1.done;
    b.sessions[0].goaway(http2.constants.NGHTTP2_NO_ERROR);
    // The pool learns of the GOAWAY asynchronously; the idle session then closes.
    while (stats.upstream_cx_destroy.value === 0) await new Promise((r) => setTimeout(r, 5));
    const x2 = new Exchange('/two', null);
    p.newStream(x2, x2);
    await x2.done;
    assert.equal(x2.failure, null);
    assert.equal(x2.head?.status, 200);
    assert.equal(b.connections(), 2);
    assert.equal(stats.upstream_cx_total.value, 2);
  });

  test('RST_STREAM from the server: refused_stream and remote_reset', async () => {
    const b = await backend((s, h) => {
      s.close(h[':path'] === '/refuse' ? http2.constants.NGHTTP2_REFUSED_STREAM : http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    const { p } = pool(b.port);
    const a = new Exchange('/refuse', null);
    const c = new Exchange('/boom', null);
    p.newStream(a, a);
    p.newStream(c, c);
    await Promise.all([a.done, c.done]);
    assert.match(a.failure ?? '', /^refused_stream:/);
    assert.match(c.failure ?? '', /^remote_reset:/);
    while (p.activeStreams > 0) await new Promise((r) => setImmediate(r));
  });
});
