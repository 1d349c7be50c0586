// L4 tcp_proxy, from the client's side: echo, half-close passing through both ways,
// backpressure with a slow reader, connect failure and idle_timeout.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  Proxy,
  TcpBackend,
  freePort,
  readFixture,
  sampleRss,
  sleep,
  startProxy,
  startTcpEcho,
  startTcpSource,
  connectTcp,
  waitFor,
} from './harness';

const MB = 1024 * 1024;
// Much more than loopback socket buffers can absorb on both hops (tcp_rmem max is 32 MB
// here), so a proxy without backpressure would have to hold most of it in memory.
const SOURCE_BYTES = 200 * MB;

let echo: TcpBackend;
let source: TcpBackend;
let proxy: Proxy;

/** Collects what a socket receives and notes when it sees FIN ('end') and 'close'. */
function collect(s: net.Socket) {
  const st = { data: Buffer.alloc(0), ended: false, closed: false, error: undefined as Error | undefined };
  s.on('data', (d: Buffer) => (st.data = Buffer.concat([st.data, d])));
  s.on('end', () => (st.ended = true));
  s.on('close', () => (st.closed = true));
  s.on('error', (e) => (st.error = e));
  return st;
}

describe('tcp_proxy', () => {
  before(async () => {
    echo = await startTcpEcho();
    source = await startTcpSource(SOURCE_BYTES);
    proxy = await startProxy(readFixture('tcp.yaml'), {
      vars: { ECHO_PORT: echo.port, SOURCE_PORT: source.port, CLOSED_PORT: await freePort() },
      // Probe only the echo listener: a probe of the source listener would start a 50 MB stream.
      listeners: ['LISTENER_ECHO_PORT'],
    });
  });

  test('bytes are echoed through the proxy', async () => {
    const s = await connectTcp(proxy.port('LISTENER_ECHO_PORT'));
    const st = collect(s);
    const msg = Buffer.from('hello through tcp_proxy\n'.repeat(1000));
    s.write(msg);
    await waitFor('the echo', () => st.data.length >= msg.length, { attempts: 100 });
    assert.ok(st.data.equals(msg));
    s.end();
    await waitFor('the connection to close', () => st.closed, { attempts: 100 });
  });

  test('half-close passes through: the client ends its side and still receives the reply', async () => {
    const finsBefore = echo.finsSeen();
    const s = await connectTcp(proxy.port('LISTENER_ECHO_PORT'));
    const st = collect(s);
    s.end('half-close please');
    // The echo backend answers the FIN with "[fin]" and then ends its own side.
    await waitFor('the reply after our FIN and the backend FIN', () => st.ended || st.closed, { attempts: 100 });
    assert.equal(st.data.toString(), 'half-close please[fin]');
    assert.ok(st.ended, 'the client should see the backend FIN as a clean end');
    // "[fin]" above is only sent once the backend has read our FIN; check its count too.
    assert.ok(echo.finsSeen() - finsBefore >= 1, 'the backend should have seen the client FIN');
  });

  test('a large transfer to a slow reader stays bounded in proxy memory', async () => {
    const baseline = proxy.rss();
    const sampler = sampleRss(proxy.pid);
    const s = await connectTcp(proxy.port('LISTENER_SOURCE_PORT'));
    let received = 0;
    let ended = false;
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('end', () => (ended = true));
    s.on('error', () => undefined);
    await waitFor('the first bytes', () => received > 0, { attempts: 100 });
    s.pause();
    await sleep(2000);
    assert.ok(
      source.bytesWritten() < SOURCE_BYTES,
      `with the client not reading, backpressure should hold the backend back (it wrote ${source.bytesWritten()} of ${SOURCE_BYTES})`,
    );
    for (let i = 0; i < 10; i++) {
      s.resume();
      await sleep(50);
      s.pause();
      await sleep(100);
    }
    s.resume();
    await waitFor('the whole stream', () => ended, { attempts: 600 });
    const peak = sampler.stop();
    s.destroy();
    assert.equal(received, SOURCE_BYTES);
    const growth = peak - baseline;
    assert.ok(growth < 64 * MB, `proxy RSS grew by ${(growth / MB).toFixed(1)} MB relaying 200 MB to a slow reader`);
  });

  test('a connect failure upstream closes the client connection', async () => {
    const s = await connectTcp(proxy.port('LISTENER_DOWN_PORT'));
    const st = collect(s);
    s.write('anyone there?');
    await waitFor('the proxy to close the connection', () => st.closed || st.ended, { attempts: 100 });
    assert.equal(st.data.length, 0, 'nothing should come back');
    s.destroy();
    assert.ok(proxy.isRunning());
  });

  test('idle_timeout closes an idle connection', async () => {
    const openBefore = echo.open();
    const s = await connectTcp(proxy.port('LISTENER_IDLE_PORT'));
    const st = collect(s);
    s.write('ping');
    await waitFor('the echo', () => st.data.length >= 4, { attempts: 50 });
    assert.equal(st.data.toString(), 'ping');
    // idle_timeout is 1s; Envoy's default would be 1 hour, so a close here comes from the config.
    await waitFor('the idle connection to be closed', () => st.closed || st.ended, { attempts: 100 });
    await waitFor('the upstream connection to be closed too', () => echo.open() <= openBefore, { attempts: 50 });
    s.destroy();
  });
});
