// BatchedWriter (src/http/h1/write_batch.ts) over a real loopback connection: held bytes go
// out after the turn, in order, and takeBack returns only the message it was given a ticket
// for (two equal response heads are still two messages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { BatchedWriter } from '../../src/http/h1/write_batch';

async function pair(): Promise<{ client: net.Socket; received: () => Promise<string>; close: () => void }> {
  let data = '';
  let peer: net.Socket | undefined;
  const server = net.createServer((s) => {
    peer = s;
    s.setEncoding('latin1');
    s.on('data', (d: string) => (data += d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const received = async (): Promise<string> => {
    client.end();
    await new Promise((r) => (peer ? peer.once('end', r) : setTimeout(r, 100)));
    return data;
  };
  return { client, received, close: () => { client.destroy(); peer?.destroy(); server.close(); } };
}

test('a held message is taken back only by its own ticket, and bytes keep their order', async () => {
  const { client, received, close } = await pair();
  try {
    const w = new BatchedWriter(client);
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n';
    const t1 = w.defer(head);
    const t2 = w.defer(head); // writes the first, holds the second (an equal string)
    assert.equal(w.takeBack(t1), null, 'the first head was written already');
    assert.equal(w.takeBack(t2), head, 'the second is still held');
    assert.equal(w.takeBack(t2), null, 'and can be taken back once');
    w.write(head + 'b');
    const t3 = w.defer('tail');
    await new Promise((r) => setImmediate(r));
    assert.equal(w.takeBack(t3), null, 'flushed at the end of the turn');
    assert.equal(await received(), head + head + 'b' + 'tail');
  } finally {
    close();
  }
});
