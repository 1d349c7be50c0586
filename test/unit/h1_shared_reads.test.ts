// readShared (src/http/h1/shared_reads.ts) on real loopback sockets: an accepted socket and
// a connecting one both switch to the shared buffer; bytes arrive whole and in order; the
// stream's 'end', pause() and resume() keep working; sockets that can't switch say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { isShared, keepable, readShared } from '../../src/http/h1/shared_reads';

interface Pair {
  accepted: net.Socket;
  client: net.Socket;
  close(): void;
}

/** A connected pair; `onAccept` runs on the accepted socket in the 'connection' event. */
async function pair(onAccept: (s: net.Socket) => void): Promise<Pair> {
  let accepted: net.Socket | undefined;
  const server = net.createServer({ allowHalfOpen: true });
  const got = new Promise<void>((resolve) => {
    server.once('connection', (s) => {
      accepted = s;
      onAccept(s);
      resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await got;
  return {
    accepted: accepted!,
    client,
    close: () => {
      client.destroy();
      accepted?.destroy();
      server.close();
    },
  };
}

test('an accepted socket reads into the shared buffer: 4 MB arrive whole, in order, then end', async () => {
  const chunks: Buffer[] = [];
  let reads = 0;
  let sharedReads = 0;
  let switched = false;
  const p = await pair((s) => {
    switched = readShared(s, (d) => {
      reads++;
      if (isShared(d)) sharedReads++;
      chunks.push(Buffer.from(d)); // copy: the bytes are only valid during the call
    });
  });
  try {
    assert.equal(switched, true);
    const data = crypto.randomBytes(4 * 1024 * 1024);
    // Writes of odd sizes, so reads end at arbitrary places.
    for (let off = 0, n = 1; off < data.length; off += n, n = (n * 7 + 13) % 100_000) p.client.write(data.subarray(off, off + n));
    p.client.end();
    await new Promise((r) => p.accepted.once('end', r));
    const got = Buffer.concat(chunks);
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data), 'the bytes arrive in order');
    assert.ok(reads > 1, `several reads (${reads})`);
    assert.equal(sharedReads, reads, 'every read was in the shared buffer');
    // The half-closed peer can still be written to (allowHalfOpen).
    const back = new Promise<string>((r) => p.client.once('data', (d) => r(String(d))));
    p.accepted.write('still here');
    assert.equal(await back, 'still here');
  } finally {
    p.close();
  }
});

test('a connecting socket reads into the shared buffer as well', async () => {
  let clientGot = '';
  const p = await pair(() => {});
  try {
    assert.equal(readShared(p.client, (d) => (clientGot += d.toString('latin1'))), true);
    p.accepted.write('hello ');
    p.accepted.end('world');
    await new Promise((r) => p.client.once('end', r));
    assert.equal(clientGot, 'hello world');
  } finally {
    p.close();
  }
});

test('pause() stops reads and resume() delivers what waited', async () => {
  let got = '';
  const p = await pair((s) => {
    readShared(s, (d) => (got += d.toString('latin1')));
  });
  try {
    p.client.write('one');
    await waitUntil(() => got === 'one');
    p.accepted.pause();
    p.client.write('two');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(got, 'one', 'nothing is read while paused');
    p.accepted.resume();
    await waitUntil(() => got === 'onetwo');
  } finally {
    p.close();
  }
});

test('a socket with bytes already queued in its stream, or a TLS socket, keeps data events', async () => {
  const p = await pair((s) => s.pause());
  try {
    p.client.write('queued');
    await waitUntil(() => p.accepted.readableLength > 0);
    assert.equal(
      readShared(p.accepted, () => assert.fail('must not be called')),
      false,
    );
    const data = new Promise<string>((r) => p.accepted.once('data', (d) => r(String(d))));
    p.accepted.resume();
    assert.equal(await data, 'queued', 'the queued bytes still come as a data event');
  } finally {
    p.close();
  }
  const q = await pair(() => {});
  try {
    const t = tls.connect({ socket: q.client, rejectUnauthorized: false });
    t.on('error', () => {});
    assert.equal(readShared(t, () => {}), false);
    t.destroy();
  } finally {
    q.close();
  }
});

test('keepable copies bytes of the shared buffer and passes others through', async () => {
  const own = Buffer.from('mine');
  assert.equal(keepable(own), own);
  let copied: Buffer | undefined;
  let original: Buffer | undefined;
  const p = await pair((s) => {
    readShared(s, (d) => {
      original = d;
      copied = keepable(d);
    });
  });
  try {
    p.client.write('abc');
    await waitUntil(() => copied !== undefined);
    assert.equal(isShared(original!), true);
    assert.notEqual(copied!.buffer, original!.buffer);
    assert.equal(isShared(copied!), false);
    assert.equal(copied!.toString(), 'abc');
  } finally {
    p.close();
  }
});

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
