// Listener filters from the client's side, without interception: tls_inspector routes TLS
// by SNI and ALPN to passthrough chains (the proxy never terminates TLS here), http_inspector
// sends HTTP to the connection manager and anything else to tcp_proxy, a server-first
// protocol still works after listener_filters_timeout with continue_on_listener_filters_timeout
// (and is closed without it), an ORIGINAL_DST cluster follows x-envoy-original-dst-host and
// forgets idle hosts, upstream_bind_config sets the upstream source address, and a
// bind_to_port: false listener is not bound.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as fs from 'node:fs';
import {
  Proxy, curl, exec, nghttp, probeConnect, readFixture, sleep, startHttpBackend, startProxy, startTcpEcho,
  startTcpServer, tempDir, trackResource, trackSocket, waitFor, type HttpBackend, type TcpBackend,
} from './harness';

let proxy: Proxy;
let web: HttpBackend;
let echo: TcpBackend;
let banner: TcpBackend;
let whoami: TcpBackend;
const bannerReceived: string[] = [];
let tlsA: number;
let tlsB: number;
let certDir: string;

/** A TLS server (self-signed, made by openssl) that says its name after the handshake. */
async function startTlsNamer(name: string): Promise<number> {
  const key = fs.readFileSync(path.join(certDir, 'key.pem'));
  const cert = fs.readFileSync(path.join(certDir, 'cert.pem'));
  const srv = tls.createServer({ key, cert, ALPNProtocols: ['x-special', 'http/1.1'] }, (s) => {
    s.on('error', () => undefined);
    s.end(`${name} sni=${(s as tls.TLSSocket & { servername?: string }).servername || '-'}\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  trackResource(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

function tlsHello(port: number, servername: string | undefined, alpn?: string[]): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = trackSocket(tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: alpn }));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', (e) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

/**
 * Connects, optionally sends `send`, and collects what arrives until close or `ms`. With
 * nothing to send (a server-first session) it answers the banner with "hi".
 */
function rawSession(port: number, send: string | null, ms: number): Promise<{ data: string; closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let data = '';
    let closedAt: number | null = null;
    const s = trackSocket(net.connect({ port, host: '127.0.0.1' }));
    s.on('connect', () => {
      if (send !== null) s.write(send);
    });
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (send === null && data.includes('220 banner ready') && !data.includes('ok:')) s.write('hi\r\n');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closedAt = Date.now() - start;
      resolve({ data, closedAfterMs: closedAt });
    });
    setTimeout(() => {
      s.destroy();
      resolve({ data, closedAfterMs: closedAt });
    }, ms).unref();
  });
}

describe('listener filters', () => {
  before(async () => {
    certDir = tempDir('switchyard-lf-');
    const r = await exec('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=example.test', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'),
    ]);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    tlsA = await startTlsNamer('tls-a');
    tlsB = await startTlsNamer('tls-b');
    web = await startHttpBackend('web');
    echo = await startTcpEcho();
    // A server-first protocol (like SMTP): it speaks first, then answers each line.
    banner = await startTcpServer((s) => {
      s.write('220 banner ready\r\n');
      s.on('data', (d: Buffer) => {
        bannerReceived.push(d.toString());
        s.write(`ok: ${d.toString()}`);
      });
      s.on('end', () => s.end());
    });
    whoami = await startTcpServer((s) => s.end(`${s.remoteAddress}\n`));
    proxy = await startProxy(readFixture('listener_filters.yaml'), {
      vars: { TLS_A_PORT: tlsA, TLS_B_PORT: tlsB, WEB_PORT: web.port, ECHO_PORT: echo.port, BANNER_PORT: banner.port, WHOAMI_PORT: whoami.port },
    });
  });

  test('tls_inspector: SNI picks the chain (exact beats wildcard), ALPN picks one too; the TLS is passed through untouched', async () => {
    const port = proxy.port('LISTENER_SNI_PORT');
    assert.equal(await tlsHello(port, 'a.example.test'), 'tls-a sni=a.example.test\n');
    assert.equal(await tlsHello(port, 'x.example.test'), 'tls-b sni=x.example.test\n');
    assert.equal(await tlsHello(port, undefined, ['x-special']), 'tls-a sni=-\n');
    // A real client we did not write: openssl s_client with SNI.
    const r = await exec('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'deep.example.test', '-quiet'], { input: '', timeoutMs: 10_000 });
    assert.match(r.stdout.toString(), /tls-b sni=deep\.example\.test/);
    const st = await proxy.stats();
    assert.ok((st.get('tls_inspector.tls_found') ?? 0) >= 4);
    assert.ok((st.get('tls_inspector.sni_found') ?? 0) >= 3);
    assert.ok((st.get('tls_inspector.alpn_found') ?? 0) >= 1);
  });

  test('tls_inspector: plain bytes go to the raw_buffer chain with nothing lost; TLS matching no chain is closed', async () => {
    const port = proxy.port('LISTENER_SNI_PORT');
    const msg = 'GET / not really tls\r\n'.repeat(50);
    const r = await rawSession(port, msg, 3000);
    assert.equal(r.data.slice(0, msg.length), msg, 'every byte the inspector looked at reaches the echo');
    assert.ok((await proxy.stats()).get('tls_inspector.tls_not_found')! >= 1);
    const before = (await proxy.stats()).get(`listener.127.0.0.1_${port}.no_filter_chain_match`) ?? 0;
    const out = await tlsHello(port, 'other.test');
    assert.doesNotMatch(out, /tls-/);
    await waitFor('no_filter_chain_match', async () => ((await proxy.stats()).get(`listener.127.0.0.1_${port}.no_filter_chain_match`) ?? 0) > before);
  });

  test('http_inspector: HTTP/1.1 (curl) and h2c (nghttp) reach the connection manager', async () => {
    const port = proxy.port('LISTENER_SNIFF_PORT');
    const r = await curl([`http://127.0.0.1:${port}/hello`]);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-chain'], 'http');
    assert.equal(r.headers['x-backend'], 'web');
    const h2 = await nghttp(['-v', `http://127.0.0.1:${port}/h2`]);
    assert.match(h2.stdout, /:status: 200/);
    assert.match(h2.stdout, /x-chain: http/);
    const st = await proxy.stats();
    assert.ok((st.get('http_inspector.http11_found') ?? 0) >= 1);
    assert.ok((st.get('http_inspector.http2_found') ?? 0) >= 1);
  });

  test('http_inspector: a client-first non-HTTP protocol goes to the tcp_proxy default chain, bytes intact', async () => {
    const port = proxy.port('LISTENER_SNIFF_PORT');
    const r = await rawSession(port, 'HELO client.example\r\n', 3000);
    assert.match(r.data, /^220 banner ready\r\nok: HELO client\.example\r\n/);
    assert.ok(bannerReceived.includes('HELO client.example\r\n'));
  });

  test('a server-first protocol works after listener_filters_timeout with continue_on_listener_filters_timeout', async () => {
    const port = proxy.port('LISTENER_SNIFF_PORT');
    const key = `listener.127.0.0.1_${port}.downstream_pre_cx_timeout`;
    const before = (await proxy.stats()).get(key) ?? 0;
    const r = await rawSession(port, null, 5000);
    assert.match(r.data, /^220 banner ready\r\nok: hi\r\n/);
    assert.equal((await proxy.stats()).get(key), before + 1);
  });

  test('without continue_on_listener_filters_timeout the socket is closed at the timeout', async () => {
    const port = proxy.port('LISTENER_STRICT_PORT');
    const key = `listener.127.0.0.1_${port}.downstream_pre_cx_timeout`;
    const before = (await proxy.stats()).get(key) ?? 0;
    const r = await rawSession(port, null, 5000);
    assert.equal(r.data, '', 'the server-first backend is never reached');
    assert.notEqual(r.closedAfterMs, null, 'the proxy closes the connection');
    assert.equal((await proxy.stats()).get(key), before + 1);
  });

  test('ORIGINAL_DST cluster: x-envoy-original-dst-host picks the host; none means 503; idle hosts are forgotten', async () => {
    const port = proxy.port('LISTENER_ODST_PORT');
    const ok = await curl([`http://127.0.0.1:${port}/x`, '-H', `x-envoy-original-dst-host: 127.0.0.1:${web.port}`]);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-backend'], 'web');
    const clusters = (await proxy.admin('/clusters')).body;
    assert.match(clusters, new RegExp(`passthrough_by_header::127\\.0\\.0\\.1:${web.port}::rq_total::1`));
    // Without the header (and without a redirected connection) there is no host: 503 UH.
    const none = await curl([`http://127.0.0.1:${port}/x`]);
    assert.equal(none.status, 503);
    const bad = await curl([`http://127.0.0.1:${port}/x`, '-H', 'x-envoy-original-dst-host: not-an-address']);
    assert.equal(bad.status, 503);
    // cleanup_interval is 1 s: an unused host is gone after at most two sweeps.
    await waitFor('the idle host to be removed', async () => !(await proxy.admin('/clusters')).body.includes(`passthrough_by_header::127.0.0.1:${web.port}::`), { attempts: 50, intervalMs: 200 });
  });

  test('upstream_bind_config: upstream connections come from the configured source address', async () => {
    const r = await rawSession(proxy.port('LISTENER_BIND_PORT'), null, 3000);
    assert.equal(r.data, '127.0.0.6\n');
  });

  test('bind_to_port: false listeners are not bound (they only take hand-offs)', async () => {
    assert.equal(await probeConnect(Number(proxy.vars.UNBOUND_PORT)), 'ECONNREFUSED');
    const listeners = (await proxy.admin('/listeners?format=json')).body;
    assert.match(listeners, /not_bound/);
  });
});
