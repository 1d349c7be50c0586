// The interception module on ordinary sockets, as any user (no root, no iptables): the addon
// loads, a connection that was not redirected gives null without throwing, and bad arguments
// are reported the documented way. The kernel paths are tested in test/netns/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { interceptionAddon } from '../../src/interception/native';
import { originalDst, socketFd } from '../../src/interception/original_dst';
import { connectTransparent, transparentListenerFd } from '../../src/interception/transparent';

function pair(host: string): Promise<{ server: net.Server; client: net.Socket; accepted: net.Socket }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((accepted) => resolve({ server, client, accepted }));
    let client: net.Socket;
    server.on('error', reject);
    server.listen(0, host, () => {
      client = net.connect((server.address() as net.AddressInfo).port, host);
      client.on('error', reject);
    });
  });
}

test('the addon is built and loads', () => {
  const addon = interceptionAddon();
  for (const f of ['originalDst', 'transparentListen', 'transparentSocket', 'setTransparent', 'closeFd'] as const) {
    assert.equal(typeof addon[f], 'function', f);
  }
});

for (const host of ['127.0.0.1', '::1']) {
  test(`originalDst: a direct ${host} connection gives null on both ends; a closed socket too`, async () => {
    const { server, client, accepted } = await pair(host);
    try {
      assert.ok(socketFd(accepted) >= 0, 'an accepted socket has an fd');
      assert.equal(originalDst(accepted), null);
      assert.equal(originalDst(client), null);
    } finally {
      accepted.destroy();
      client.destroy();
      server.close();
    }
    assert.equal(socketFd(accepted), -1);
    assert.equal(originalDst(accepted), null);
  });
}

test('originalDst: a socket that never connected gives null', () => {
  assert.equal(originalDst(new net.Socket()), null);
});

test('originalDst: an fd that is not a socket throws (a caller bug, not the hot path)', () => {
  assert.throws(() => interceptionAddon().originalDst(0x7fff), /getsockname: Bad file descriptor/);
});

test('transparentListenerFd: the host must be an IP literal', () => {
  assert.throws(() => transparentListenerFd({ host: 'localhost', port: 0 }), { code: 'ERR_INVALID_IP_ADDRESS' });
});

test('connectTransparent: a bad address is an error event, not a throw', async () => {
  const s = connectTransparent({ host: '127.0.0.1', port: 1, localAddress: '::1' });
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => s.once('error', resolve));
  assert.equal(err.code, 'EAFNOSUPPORT');
  assert.match(err.message, /transparent connect from \[::1\]:0 to 127\.0\.0\.1:1: .*different address families/);
});
