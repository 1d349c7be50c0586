// The inspectors' parsers against bytes real clients send: ClientHellos from Node's TLS
// stack and from openssl s_client (captured on a local socket), split across TLS records
// and cut short; HTTP/1.x request lines and the HTTP/2 preface byte by byte.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { inspectClientHello } from '../../../src/filters/listener/client_hello';
import { detectHttp } from '../../../src/filters/listener/http_detect';

/** Captures the first bytes a client sends to a local server (until `min` bytes or 2 s). */
async function capture(client: (port: number) => () => void, min: number): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      let stop = () => {};
      const done = () => {
        stop();
        resolve(got);
      };
      srv.on('connection', (s) => {
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= min && inspectClientHello(got).state !== 'more') done();
        });
        s.on('error', () => undefined);
      });
      stop = client(port);
      setTimeout(done, 2000).unref();
    });
  } finally {
    srv.close();
  }
}

function nodeHello(servername: string | undefined, alpn: string[] | undefined): Promise<Buffer> {
  return capture((port) => {
    const c = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
    c.on('error', () => undefined);
    return () => c.destroy();
  }, 5);
}

test('tls: SNI and ALPN from a Node.js ClientHello', async () => {
  const hello = await nodeHello('api.example.test', ['h2', 'http/1.1']);
  assert.deepEqual(inspectClientHello(hello), { state: 'tls', serverName: 'api.example.test', alpn: ['h2', 'http/1.1'] });
  // Without SNI (an IP literal) and without ALPN.
  const bare = await nodeHello(undefined, undefined);
  assert.deepEqual(inspectClientHello(bare), { state: 'tls', serverName: '', alpn: [] });
});

test('tls: SNI and ALPN from an openssl s_client ClientHello', async () => {
  const hello = await capture((port) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'MiXeD.Example.Test', '-alpn', 'istio-peer-exchange,istio'], { stdio: ['pipe', 'ignore', 'ignore'] });
    return () => p.kill('SIGKILL');
  }, 5);
  // Server names compare case-insensitively: the inspector lower-cases.
  assert.deepEqual(inspectClientHello(hello), { state: 'tls', serverName: 'mixed.example.test', alpn: ['istio-peer-exchange', 'istio'] });
});

test('tls: every cut-short prefix asks for more; a hello split over two records is reassembled', async () => {
  const hello = await nodeHello('split.example.test', ['h2']);
  for (let n = 0; n < hello.length; n++) assert.equal(inspectClientHello(hello.subarray(0, n)).state, 'more', `prefix of ${n} bytes`);
  // Re-frame the handshake message as two records.
  const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const cut = 40;
  const rec = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 3, 1, b.length >> 8, b.length & 0xff]), b]);
  const two = Buffer.concat([rec(body.subarray(0, cut)), rec(body.subarray(cut))]);
  assert.equal(inspectClientHello(two.subarray(0, 5 + cut + 3)).state, 'more');
  assert.deepEqual(inspectClientHello(two), { state: 'tls', serverName: 'split.example.test', alpn: ['h2'] });
});

test('tls: plain text, other record types and corrupt lengths are not TLS; a huge hello is too large', async () => {
  assert.equal(inspectClientHello(Buffer.from('GET / HTTP/1.1\r\n')).state, 'not_tls');
  assert.equal(inspectClientHello(Buffer.from([0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5])).state, 'not_tls'); // application data
  assert.equal(inspectClientHello(Buffer.from([0x16, 2, 0])).state, 'not_tls'); // SSLv2-ish version
  const hello = await nodeHello('x.test', undefined);
  const corrupt = Buffer.from(hello);
  // Make the extensions block claim more bytes than the message has.
  corrupt[5 + 4 + 2 + 32 + 1 + corrupt[5 + 4 + 2 + 32] + 0] = 0xff;
  assert.equal(inspectClientHello(corrupt).state, 'not_tls');
  const huge = Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, 0x02, 0x00, 0x00]); // handshake length 128 KiB
  assert.equal(inspectClientHello(huge).state, 'too_large');
});

test('http: request lines, the h2 preface, and everything else', () => {
  assert.equal(detectHttp(Buffer.from('GET /path?q=1 HTTP/1.1\r\nHost: x\r\n\r\n')), 'http/1.1');
  assert.equal(detectHttp(Buffer.from('POST * HTTP/1.0\r\n')), 'http/1.0');
  assert.equal(detectHttp(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'h2c');
  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  for (let n = 0; n < preface.length; n++) assert.equal(detectHttp(Buffer.from(preface.slice(0, n))), 'more', `preface prefix ${n}`);
  const line = 'OPTIONS /x HTTP/1.1\r\n';
  for (let n = 0; n < line.length - 1; n++) assert.equal(detectHttp(Buffer.from(line.slice(0, n))), 'more', `request-line prefix ${n}`);
  for (const notHttp of ['HELO example\r\n', 'GET /x HTTP/2.0\r\n', 'GET  /x HTTP/1.1\r\n', '\x16\x03\x01', 'SSH-2.0-OpenSSH\r\n', 'GET /x HTTP/1.1x']) {
    assert.equal(detectHttp(Buffer.from(notHttp, 'latin1')), 'none', JSON.stringify(notHttp));
  }
  // A first word that no method starts with is decided at once (no waiting for the timeout).
  assert.equal(detectHttp(Buffer.from('QWERTYUIOPASDFGHJKLZXCVBNM'.repeat(2))), 'none');
  assert.equal(detectHttp(Buffer.from('X')), 'none');
  assert.equal(detectHttp(Buffer.from('get / HTTP/1.1\r\n')), 'none', 'methods are case-sensitive');
  assert.equal(detectHttp(Buffer.from('GETX / HTTP/1.1\r\n')), 'none');
  assert.equal(detectHttp(Buffer.from('M-SEARCH * HTTP/1.1\r\n')), 'http/1.1');
  assert.equal(detectHttp(Buffer.from('PROPFIN')), 'more');
  assert.equal(detectHttp(Buffer.from('GET /' + 'a'.repeat(9000))), 'none');
});
