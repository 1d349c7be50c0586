// The HTTP connection manager's byte counters, as Envoy keeps them: they follow the bytes
// while connections stay open, and closing a connection adds nothing twice.
// cluster.<name>.upstream_cx_rx/tx_bytes_total for the pools (keep-alive HTTP/1.1, an HTTP/2
// session): the backends count what their own sockets read and wrote, and the proxy's
// counters must equal those sums. http.<stat_prefix>.downstream_cx_rx/tx_bytes_total: a raw
// client socket counts its own bytes.
// (tcp_proxy's byte counters are tested in tcp_relay.test.ts, for both relays.)
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { connectTcp, httpRequest, startProxy, waitFor, type Proxy } from './harness';
import { ADMIN_YAML, hcmListenerYaml, routeYaml } from './bootstrap_yaml';

interface Backend {
  port: number;
  /** Every connection the backend accepted. */
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** Listens on a free loopback port, keeping every accepted socket. */
function listen(server: net.Server): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => sockets.add(s));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sockets,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

/** A keep-alive HTTP/1.1 server written on a raw socket, so every byte it reads and writes is its own. */
function startRawHttp1(): Promise<Backend> {
  return listen(
    net.createServer((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
          const path = buf.slice(0, buf.indexOf('\r\n')).split(' ')[1];
          buf = buf.slice(end + 4);
          const body = `hello ${path}\n`;
          s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        }
      });
      s.on('error', () => undefined);
    }),
  );
}

function startH2c(): Promise<Backend> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`hello ${headers[':path']}\n`);
  });
  return listen(server);
}

/** What the backend's sockets read and wrote, summed: the proxy's tx and rx. */
function backendBytes(sockets: Set<net.Socket>): { rx: number; tx: number } {
  let read = 0;
  let written = 0;
  for (const s of sockets) {
    read += s.bytesRead;
    written += s.bytesWritten;
  }
  return { rx: written, tx: read };
}

describe('byte counters of the HTTP connection manager and its pools', () => {
  let h1: Backend;
  let h2: Backend;
  let proxy: Proxy;
  let url: string;

  before(async () => {
    h1 = await startRawHttp1();
    h2 = await startH2c();
    const cluster = (name: string, port: number, extra = '') => `
  - name: ${name}
    connect_timeout: 1s
    type: STATIC${extra}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
    proxy = await startProxy(`
${ADMIN_YAML}
static_resources:
  listeners:${hcmListenerYaml('http', 'HTTP_LISTENER_PORT', 'http', routeYaml('/h2/', 'h2') + routeYaml('/', 'h1'))}
  clusters:${cluster('h1', h1.port)}${cluster(
    'h2',
    h2.port,
    `
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }`,
  )}
`);
    url = `http://127.0.0.1:${proxy.port('HTTP_LISTENER_PORT')}`;
  });

  after(async () => {
    await proxy?.stop();
    await h1?.close();
    await h2?.close();
  });

  async function counters(cluster: string): Promise<{ rx: number; tx: number; active: number }> {
    const m = await proxy.stats();
    return {
      rx: m.get(`cluster.${cluster}.upstream_cx_rx_bytes_total`) ?? 0,
      tx: m.get(`cluster.${cluster}.upstream_cx_tx_bytes_total`) ?? 0,
      active: m.get(`cluster.${cluster}.upstream_cx_active`) ?? 0,
    };
  }

  test('HTTP/1.1: the counters equal what the backend read and wrote while the keep-alive connection stays open', async () => {
    for (const p of ['/one', '/two', '/three']) {
      const r = await httpRequest(url + p);
      assert.equal(r.body.toString(), `hello ${p}\n`);
    }
    const want = backendBytes(h1.sockets);
    assert.ok(want.rx > 0 && want.tx > 0);
    const c = await counters('h1');
    assert.equal(c.active, 1, 'one pooled connection, still open');
    assert.equal(h1.sockets.size, 1);
    assert.deepEqual({ rx: c.rx, tx: c.tx }, want);
    // Another request on the same connection moves the counters by exactly its bytes.
    await httpRequest(url + '/four');
    const c2 = await counters('h1');
    assert.deepEqual({ rx: c2.rx, tx: c2.tx }, backendBytes(h1.sockets));
    assert.ok(c2.rx > c.rx && c2.tx > c.tx);
    // The backend closes the connection: the pool lets it go, and nothing is counted twice.
    const final = backendBytes(h1.sockets);
    for (const s of h1.sockets) s.end();
    await waitFor('the pool to drop the connection', async () => (await counters('h1')).active === 0, { attempts: 100 });
    const c3 = await counters('h1');
    assert.deepEqual({ rx: c3.rx, tx: c3.tx }, final);
  });

  test('HTTP/2: the counters equal what the backend read and wrote while the session stays open', async () => {
    for (const p of ['/h2/a', '/h2/b']) {
      const r = await httpRequest(url + p);
      assert.equal(r.body.toString(), `hello ${p}\n`);
    }
    // Frames that need no answer (a SETTINGS ack, WINDOW_UPDATEs) may still be in flight just
    // after the responses: wait for both sides to agree, then check they stay equal.
    let c = await counters('h2');
    let want = backendBytes(h2.sockets);
    await waitFor('the counters to catch up', async () => {
      c = await counters('h2');
      want = backendBytes(h2.sockets);
      return c.rx === want.rx && c.tx === want.tx;
    }, { attempts: 50 }).catch(() => undefined);
    assert.deepEqual({ rx: c.rx, tx: c.tx }, want);
    assert.ok(want.rx > 0 && want.tx > 0);
    assert.equal(c.active, 1, 'one HTTP/2 session, still open');
    assert.equal(h2.sockets.size, 1);
  });

  test('downstream: http.<stat_prefix>.downstream_cx_rx/tx_bytes_total equal what the client sent and received, connection still open', async () => {
    const read = async () => {
      const m = await proxy.stats();
      return { rx: m.get('http.http.downstream_cx_rx_bytes_total') ?? 0, tx: m.get('http.http.downstream_cx_tx_bytes_total') ?? 0 };
    };
    const before = await read();
    const s = await connectTcp(proxy.port('HTTP_LISTENER_PORT'));
    let received = '';
    s.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const req = (p: string) => `GET ${p} HTTP/1.1\r\nhost: test\r\n\r\n`;
    const sent = req('/x') + req('/yy');
    s.write(sent);
    await waitFor('both responses', () => received.includes('hello /x\n') && received.includes('hello /yy\n'), { attempts: 100 });
    assert.deepEqual(await read(), { rx: before.rx + sent.length, tx: before.tx + received.length });
    assert.equal(s.destroyed, false);
    s.end();
    await waitFor('the proxy to close the connection', async () => (await proxy.stats()).get('http.http.downstream_cx_active') === 0, { attempts: 100 });
    assert.deepEqual(await read(), { rx: before.rx + sent.length, tx: before.tx + received.length });
  });
});
