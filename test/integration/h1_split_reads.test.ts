// HTTP/1.1 messages split across reads while other connections read in between. The codecs
// read every socket into one shared buffer (src/http/h1/shared_reads.ts) and must copy what
// they keep past a read: the start of a head still incomplete, the rest of a read after a
// head, body bytes. Here a request and a response each arrive in pieces, with a burst of
// other requests (other connections, the same buffer) between every two pieces; the bytes
// on the far side must be exactly what was sent. The test runner has the proxy overwrite
// each read's bytes after use (SWITCHYARD_POISON_SHARED_READS), so a kept reference fails
// here even when no other read reused the buffer in between. The proxy is drain.yaml's:
// one HTTP listener, every route to one backend (the raw app below).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Proxy, parseHttp1Responses, readFixture, sleep, startProxy, trackSocket, waitFor } from './harness';

/** What the app saw of one request: its head and body bytes, exactly. */
interface Seen {
  head: string;
  body: Buffer;
}

/** The response the app sends for /slow, in pieces (the cut points fall inside the head and the body). */
const SLOW_PIECES = ['HTTP/1.1 200 OK\r\ncontent-le', 'ngth: 26\r\nx-piece', 's: three\r\n\r\nabcdefghijklm', 'nopqrstuvwxyz'];

let app: net.Server;
let appPort = 0;
const seen: Seen[] = [];
/** Resolved by the test to let the app send the next piece of the /slow response. */
let nextPiece: (() => void) | null = null;
let proxy: Proxy;
let base = 0;

/**
 * A raw HTTP/1.1 app: reads a head and a content-length body, records them, and answers
 * /fast at once in one write, /slow in SLOW_PIECES as the test releases them.
 */
function startApp(): Promise<void> {
  app = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const body = Buffer.from(buf.subarray(end + 4, end + 4 + len));
        buf = buf.subarray(end + 4 + len);
        seen.push({ head, body });
        if (head.startsWith('GET /fast')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfast');
        else void sendSlow(s);
      }
    });
    s.on('error', () => {});
  });
  return new Promise((r) =>
    app.listen(0, '127.0.0.1', () => {
      appPort = (app.address() as net.AddressInfo).port;
      r();
    }),
  );
}

async function sendSlow(s: net.Socket): Promise<void> {
  for (const piece of SLOW_PIECES) {
    await new Promise<void>((r) => (nextPiece = r));
    s.write(piece);
  }
}

/** 20 requests on 4 other keep-alive connections, all answered, while the test waits between pieces. */
async function burst(conns: net.Socket[]): Promise<void> {
  await Promise.all(
    conns.map(async (c) => {
      let got = Buffer.alloc(0);
      const all = new Promise<void>((resolve) => {
        const onData = (d: Buffer): void => {
          got = Buffer.concat([got, d]);
          if (parseHttp1Responses(got).length === 5) {
            c.off('data', onData);
            resolve();
          }
        };
        c.on('data', onData);
      });
      c.write('GET /fast HTTP/1.1\r\nhost: other\r\n\r\n'.repeat(5));
      await all;
      for (const r of parseHttp1Responses(got)) assert.equal(r.body.toString(), 'fast');
    }),
  );
}

describe('HTTP/1.1 messages split across reads, with other connections reading in between', () => {
  before(async () => {
    await startApp();
    proxy = await startProxy(readFixture('drain.yaml'), { vars: { BACKEND_PORT: appPort } });
    base = proxy.port('LISTENER_PORT');
  });
  after(() => app.close());

  test('a request and its response arrive byte for byte', async () => {
    const others = await Promise.all([1, 2, 3, 4].map(() => connect(base)));
    const c = await connect(base);
    // A first request, so that the split one starts in a read into the shared buffer (the
    // first bytes of a connection are read apart, to tell HTTP/1.1 from HTTP/2).
    await burst([c]);
    let reply = Buffer.alloc(0);
    c.on('data', (d: Buffer) => (reply = Buffer.concat([reply, d])));
    const body = 'body-part-one|body-part-two';
    // The request in four pieces: inside the request line, inside a header, the end of the
    // head with the first body bytes, the rest of the body.
    const pieces = [
      'POST /slow/pa',
      'th?q=1 HTTP/1.1\r\nhost: split.example\r\nx-long-header: ' + 'v'.repeat(300),
      `\r\ncontent-length: ${body.length}\r\n\r\n` + body.slice(0, 9),
      body.slice(9),
    ];
    for (const p of pieces) {
      c.write(p);
      await sleep(20);
      await burst(others);
    }
    const mine = await waitFor('the split request at the app', () => seen.find((s) => s.head.startsWith('POST /slow')), { intervalMs: 20 });
    assert.match(mine.head, /^POST \/slow\/path\?q=1 HTTP\/1\.1\r\n/);
    assert.match(mine.head, new RegExp(`\r\nx-long-header: v{300}\r\n`));
    assert.match(mine.head, /\r\nhost: split\.example\r\n/);
    assert.equal(mine.body.toString('latin1'), body);
    // The response in four pieces, the same way.
    for (let i = 0; i < SLOW_PIECES.length; i++) {
      await waitFor(`the app ready to send piece ${i + 1}`, () => nextPiece, { intervalMs: 10 });
      const send = nextPiece!;
      nextPiece = null;
      send();
      await sleep(20);
      await burst(others);
    }
    await waitFor('the whole split response', () => parseHttp1Responses(reply)[0]?.body.length === 26, { intervalMs: 20 });
    const [r] = parseHttp1Responses(reply);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-pieces'], 'three');
    assert.equal(r.body.toString('latin1'), 'abcdefghijklmnopqrstuvwxyz');
    for (const s of [c, ...others]) s.destroy();
  });
});

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = trackSocket(net.connect(port, '127.0.0.1'));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
