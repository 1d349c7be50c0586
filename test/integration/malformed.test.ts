// Bad input never crashes the proxy: hundreds of malformed and mutated HTTP/1.1 and
// HTTP/2 inputs, generated from a fixed seed (the same cases every run), each on its own
// connection. Every answer must be a 4xx/5xx local reply or a closed connection — never a
// 2xx for garbage — and after every batch the proxy must still be alive and serving.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  HttpBackend,
  Proxy,
  curl,
  freePort,
  parseHttp1Responses,
  rawExchange,
  readFixture,
  startHttpBackend,
  startProxy,
  trackSocket,
} from './harness';
import { seededRandom } from '../support/prng';

const VALID = 'GET /a/thing?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello';

/** Hand-written malformed requests, each a known way to get HTTP/1.1 framing wrong. */
const CASES: string[] = [
  'GARBAGE\r\n\r\n',
  'GET\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\n\r\n', // no Host in HTTP/1.1
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\n bad-fold: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n',
  'GET http://[::1 HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET nopath HTTP/1.1\r\nHost: a\r\n\r\n',
  'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
  'G\u00c9T / HTTP/1.1\r\nHost: a\r\n\r\n',
  `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: a\r\n${'X-Many: 1\r\n'.repeat(500)}\r\n`,
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u0000\u0000\u0004\u0001\u0000\u0000\u0000\u0000\u0000garbage-frames',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + '\u00ff'.repeat(64),
];

/** Mutations of a valid request: flipped, dropped, duplicated and inserted bytes. */
function mutate(rand: () => number, base: string): Buffer {
  const b = Buffer.from(base, 'latin1');
  const out: number[] = [...b];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * out.length);
    switch (Math.floor(rand() * 4)) {
      case 0:
        out[at] = Math.floor(rand() * 256);
        break;
      case 1:
        out.splice(at, 1);
        break;
      case 2:
        out.splice(at, 0, out[at]);
        break;
      default:
        out.splice(at, 0, [13, 10, 0, 58, 32][Math.floor(rand() * 5)]);
    }
  }
  return Buffer.from(out);
}

/**
 * Sends `data` and half-closes (so the proxy knows nothing more is coming and need not wait
 * for a body the mutation cut short), then collects what comes back until the first head
 * is complete, the connection closes, or `timeoutMs` passes.
 */
function sendAndClose(port: number, data: Buffer, timeoutMs: number): Promise<{ data: Buffer; closed: boolean; timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const sock = trackSocket(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    const finish = (closed: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    sock.on('connect', () => sock.end(data));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) finish(false, false);
    });
    sock.on('end', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.on('error', () => finish(true, false));
  });
}

let backend: HttpBackend;
let proxy: Proxy;
let port: number;

async function stillServing(): Promise<void> {
  assert.ok(proxy.isRunning(), `the proxy exited; stderr:\n${proxy.stderr().slice(-2000)}`);
  const r = await curl([`http://127.0.0.1:${port}/a/alive`]);
  assert.equal(r.status, 200, 'a normal request after the bad ones is served');
}

/** The answer to a bad request: a local 4xx/5xx reply, or the connection closed. */
function assertRejected(data: Buffer, closed: boolean, what: string): void {
  if (data.length === 0) {
    assert.ok(closed, `${what}: no answer and the connection left open`);
    return;
  }
  if (data.subarray(0, 8).toString('latin1') !== 'HTTP/1.1') {
    // An HTTP/2 peer gets frames back (a GOAWAY); anything else is a bug.
    assert.ok(data.length >= 9 && closed, `${what}: unexpected bytes ${JSON.stringify(data.subarray(0, 40).toString('latin1'))}`);
    return;
  }
  const [first] = parseHttp1Responses(data, 1);
  assert.ok(first.status >= 400, `${what}: expected a 4xx/5xx, got ${first.status}`);
}

describe('malformed input', () => {
  before(async () => {
    backend = await startHttpBackend('a');
    proxy = await startProxy(readFixture('http1.yaml'), {
      vars: { BACKEND_A_PORT: backend.port, BACKEND_B_PORT: backend.port, BACKEND_KA_PORT: backend.port, CLOSED_PORT: await freePort() },
    });
    port = proxy.port('LISTENER_PORT');
  });

  test('hand-written framing errors get a 4xx (or a close) and the proxy keeps serving', async () => {
    for (const c of CASES) {
      // A keep-alive 4xx leaves the connection open: stop at the end of the first head.
      const r = await rawExchange(port, Buffer.from(c, 'latin1'), { timeoutMs: 5000, until: (b) => b.includes('\r\n\r\n') });
      assert.ok(!r.timedOut, `no answer within 5 s to ${JSON.stringify(c.slice(0, 60))}`);
      assertRejected(r.data, r.closed, JSON.stringify(c.slice(0, 60)));
    }
    await stillServing();
  });

  test('300 seeded mutations of a valid request never crash the proxy', async () => {
    const rand = seededRandom(20261127);
    let answered = 0;
    for (let i = 0; i < 300; i++) {
      const input = mutate(rand, VALID);
      const r = await sendAndClose(port, input, 3000);
      assert.ok(!r.timedOut, `case ${i}: the proxy neither answered nor closed within 3 s`);
      if (r.data.length > 0) answered++;
      if (i % 50 === 49) await stillServing();
    }
    assert.ok(answered > 0, 'at least some mutated requests were answered');
    await stillServing();
  });

  test('random bytes on fresh connections never crash the proxy', async () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 100; i++) {
      const len = 1 + Math.floor(rand() * 300);
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
      const r = await sendAndClose(port, buf, 3000);
      assert.ok(!r.timedOut, `case ${i}: the proxy neither answered nor closed within 3 s`);
      if (r.data.length > 0 && r.data.subarray(0, 8).toString('latin1') === 'HTTP/1.1') {
        const [first] = parseHttp1Responses(r.data, 1);
        assert.ok(first.status >= 400, `random bytes got status ${first.status}`);
      }
    }
    await stillServing();
  });
});
