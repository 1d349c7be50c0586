// tcp_proxy's two relays from the client's side: the splice(2) relay (plain sockets on Linux,
// the default) and the Node streams fallback (forced with SWITCHYARD_TCP_PROXY_RELAY=stream,
// see src/interception/splice_relay.ts). Each suite runs against both: 128 MB each way at once
// with checksums, half-close each way, RST each way, idle_timeout kept alive by traffic and
// then expiring, byte counters equal to the bytes sent, and a listener update closing the old
// generation's connections (closeAll). Which relay serves a connection is checked through
// /proc: the splice relay holds a dup() of both sockets, so each socket's inode shows twice in
// the proxy's fd table while the connection is up, and never once it is closed.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { Proxy, connectTcp, freePort, sleep, startProxy, startTcpServer, tempDir, waitFor, type TcpBackend } from './harness';
import { ADMIN_YAML, tcpProxyListenerYaml } from './bootstrap_yaml';

const MB = 1024 * 1024;
const BULK = 128 * MB;
const BLOCK = MB;
const IS_LINUX = process.platform === 'linux';

// ------------------------------------------------------------------ the app behind the proxy

/** Deterministic bulk data: a random 1 MiB block whose first 8 bytes carry the block's index. */
const pattern = crypto.randomBytes(BLOCK);
function block(i: number): Buffer {
  const b = Buffer.from(pattern);
  b.writeUInt32BE(i, 0);
  b.writeUInt32BE(i ^ 0x5a5a5a5a, 4);
  return b;
}
function expectedHash(bytes: number): string {
  const h = crypto.createHash('sha256');
  for (let i = 0; i * BLOCK < bytes; i++) h.update(block(i).subarray(0, Math.min(BLOCK, bytes - i * BLOCK)));
  return h.digest('hex');
}

/** Writes `bytes` of the pattern with backpressure, then calls done; counts in `progress.sent`. */
function sendPattern(s: net.Socket, bytes: number, done: () => void, progress?: { sent: number }): void {
  let i = 0;
  const pump = (): void => {
    for (let n = 0; n < 100_000; n++) {
      if (i * BLOCK >= bytes) return done();
      const b = block(i).subarray(0, Math.min(BLOCK, bytes - i * BLOCK));
      i++;
      if (progress !== undefined) progress.sent += b.length;
      if (!s.write(b)) {
        s.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

interface Seen {
  /** Bytes the app handed to its socket (bulk). */
  sent: number;
  bytes: number;
  hash: string;
  fin: boolean;
  closed: boolean;
  error?: string;
}

/**
 * The app: the first line of each connection says what to do.
 *   bulk ID N    send N pattern bytes, then end; hash everything received until FIN
 *   late ID N    wait for the client's FIN, then send N pattern bytes, then end
 *   first ID     send "bye" and end at once (the app half-closes first); count what follows
 *   echo         echo; end after the client's FIN
 *   rst ID       reset the connection (RST) after the line
 *   hold ID      do nothing; note how the connection ends
 * Every mode but bulk and first (whose app side has ended already or will) ends the app side
 * after the client's FIN.
 */
function startApp(): Promise<TcpBackend & { seen: Map<string, Seen> }> {
  const seen = new Map<string, Seen>();
  return startTcpServer((s) => {
    let head = Buffer.alloc(0);
    let st: Seen | null = null;
    let hash: crypto.Hash | null = null;
    let mode = '';
    let lateBytes = 0;
    const onBody = (d: Buffer) => {
      if (mode === 'echo') s.write(d);
      if (st !== null) {
        st.bytes += d.length;
        hash!.update(d);
      }
    };
    s.on('data', (d: Buffer) => {
      if (mode !== '') return onBody(d);
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      const [cmd, id, n] = head.subarray(0, nl).toString().split(' ');
      const rest = head.subarray(nl + 1);
      mode = cmd;
      if (id !== undefined) {
        st = { sent: 0, bytes: 0, hash: '', fin: false, closed: false };
        hash = crypto.createHash('sha256');
        seen.set(id, st);
      }
      if (cmd === 'late') lateBytes = Number(n);
      if (cmd === 'bulk') sendPattern(s, Number(n), () => s.end(), st!);
      else if (cmd === 'first') s.end('bye');
      else if (cmd === 'rst') return void s.resetAndDestroy();
      if (rest.length > 0) onBody(rest);
    });
    s.on('end', () => {
      if (st !== null) {
        st.fin = true;
        st.hash = hash!.digest('hex');
      }
      if (mode === 'late') sendPattern(s, lateBytes, () => s.end());
      else if (mode !== 'first' && mode !== 'bulk') s.end();
    });
    s.on('error', (e) => st !== null && (st.error = (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => st !== null && (st.closed = true));
  }).then((b) => Object.assign(b, { seen }));
}

// ------------------------------------------------------------------ client helpers

/** Hashes what a socket receives; notes FIN, close and errors. */
function receiver(s: net.Socket) {
  const h = crypto.createHash('sha256');
  const st = { bytes: 0, text: '', hash: '', ended: false, closed: false, error: '' };
  s.on('data', (d: Buffer) => {
    st.bytes += d.length;
    h.update(d);
    if (st.text.length < 64) st.text += d.toString('latin1');
  });
  s.on('end', () => {
    st.ended = true;
    st.hash = h.digest('hex');
  });
  s.on('close', () => (st.closed = true));
  s.on('error', (e) => (st.error = (e as NodeJS.ErrnoException).code ?? e.message));
  return st;
}

/** Socket inodes that the process has open more than once (the splice relay's dups). */
function duplicatedSockets(pid: number): number {
  const count = new Map<string, number>();
  const dir = `/proc/${pid}/fd`;
  for (const f of fs.readdirSync(dir)) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(dir, f));
    } catch {
      continue;
    }
    if (target.startsWith('socket:')) count.set(target, (count.get(target) ?? 0) + 1);
  }
  let n = 0;
  for (const c of count.values()) if (c > 1) n++;
  return n;
}

/** The bootstraps' clusters (`app` unless named otherwise), each with one host: the test's app on appPort. */
function appCluster(appPort: number, names = ['app']): string {
  return '  clusters:' + names.map((name) => `
  - name: ${name}
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${appPort} } } }`).join('') + '\n';
}

function bootstrap(appPort: number): string {
  const listener = (name: string, extra = '', cluster = 'app') => tcpProxyListenerYaml(name, `${name.toUpperCase()}_LISTENER_PORT`, name, cluster, extra);
  return `
${ADMIN_YAML}
static_resources:
  listeners:${listener('relay')}${listener('counted', '', 'counted')}${listener('idle', '\n          idle_timeout: 1s')}
${appCluster(appPort, ['app', 'counted'])}`;
}

// ------------------------------------------------------------------ the suites

for (const relay of ['splice', 'stream'] as const) {
  const skip = relay === 'splice' && !IS_LINUX ? 'the splice relay is Linux only' : false;
  describe(`tcp_proxy relay: ${relay}`, { skip }, () => {
    let app: Awaited<ReturnType<typeof startApp>>;
    let proxy: Proxy;
    let port: number;
    let ids = 0;
    const id = () => `${relay}-${++ids}`;

    before(async () => {
      app = await startApp();
      proxy = await startProxy(bootstrap(app.port), {
        env: relay === 'stream' ? { SWITCHYARD_TCP_PROXY_RELAY: 'stream' } : {},
        listeners: [],
      });
      port = proxy.port('RELAY_LISTENER_PORT');
    });

    test(`the connection is relayed by the ${relay} path, and its dups are gone once it closes`, async (t) => {
      if (!fs.existsSync(`/proc/${proxy.pid}/fd`)) return t.skip('no /proc');
      const s = await connectTcp(port);
      const st = receiver(s);
      s.write('echo\nping');
      await waitFor('the echo', () => st.text.includes('ping'), { attempts: 100 });
      const dups = duplicatedSockets(proxy.pid);
      if (relay === 'splice') assert.equal(dups, 2, 'the splice relay holds a dup of the downstream and the upstream socket');
      else assert.equal(dups, 0, 'the stream relay holds no dups');
      s.end();
      await waitFor('the connection to close', () => st.closed, { attempts: 100 });
      await waitFor('the proxy to let go of both sockets', () => duplicatedSockets(proxy.pid) === 0, { attempts: 100 });
    });

    test('300 short connections leave no fds behind (pipes are pooled, at most 64 pairs)', async (t) => {
      if (!fs.existsSync(`/proc/${proxy.pid}/fd`)) return t.skip('no /proc');
      const fds = () => fs.readdirSync(`/proc/${proxy.pid}/fd`).length;
      const before = fds();
      const one = async () => {
        const s = await connectTcp(port);
        const st = receiver(s);
        s.end('echo\nshort');
        await waitFor('the echo and the close', () => st.ended && st.closed, { attempts: 100, intervalMs: 20 });
        assert.equal(st.text, 'short');
      };
      for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 10 }, one));
      await waitFor('the proxy to let go of every socket', () => duplicatedSockets(proxy.pid) === 0, { attempts: 100 });
      const after = fds();
      assert.ok(after <= before + 128, `the proxy had ${before} fds before and ${after} after 300 connections`);
    });

    test(`${BULK / MB} MB each way at once arrive intact (sha256)`, async () => {
      const k = id();
      const s = await connectTcp(port);
      const st = receiver(s);
      s.write(`bulk ${k} ${BULK}\n`);
      sendPattern(s, BULK, () => s.end());
      await waitFor('both streams', () => st.ended && app.seen.get(k)?.fin === true, { attempts: 1200, intervalMs: 100 });
      await waitFor('the connection to close', () => st.closed, { attempts: 100 });
      const want = expectedHash(BULK);
      assert.equal(st.bytes, BULK, 'bytes received by the client');
      assert.equal(st.hash, want, 'what the client received is what the app sent');
      assert.equal(app.seen.get(k)!.bytes, BULK, 'bytes received by the app');
      assert.equal(app.seen.get(k)!.hash, want, 'what the app received is what the client sent');
      assert.equal(st.error, '');
    });

    test('a client that stops reading holds the app back (backpressure through the relay), then gets every byte', async () => {
      const k = id();
      const total = 256 * MB;
      const s = await connectTcp(port);
      const st = receiver(s);
      s.write(`bulk ${k} ${total}\n`);
      await waitFor('the first bytes', () => st.bytes > 0, { attempts: 100 });
      s.pause();
      await sleep(1500);
      const sent = app.seen.get(k)!.sent;
      // Socket buffers on three sockets and the relay's pipes hold some tens of MB at most.
      assert.ok(sent < total / 2, `with the client not reading, the app should be held back (it handed ${sent / MB} MB of ${total / MB} MB to its socket)`);
      s.resume();
      s.end();
      await waitFor('the whole stream', () => st.ended, { attempts: 600, intervalMs: 100 });
      assert.equal(st.bytes, total);
      assert.equal(st.hash, expectedHash(total));
    });

    test('half-close: the client ends first and still receives 8 MB the app sends afterwards', async () => {
      const k = id();
      const s = await connectTcp(port);
      const st = receiver(s);
      s.end(`late ${k} ${8 * MB}\nlast words`);
      await waitFor('the reply and the app FIN', () => st.ended, { attempts: 300, intervalMs: 100 });
      assert.equal(app.seen.get(k)?.fin, true, 'the app saw the client FIN');
      assert.equal(app.seen.get(k)!.bytes, 'last words'.length);
      assert.equal(st.bytes, 8 * MB);
      assert.equal(st.hash, expectedHash(8 * MB));
      await waitFor('the connection to close', () => st.closed, { attempts: 100 });
    });

    test('half-close: the app ends first and still receives 8 MB the client sends afterwards', async () => {
      const k = id();
      const s = await connectTcp(port);
      const st = receiver(s);
      s.write(`first ${k}\n`);
      await waitFor("the app's FIN", () => st.ended, { attempts: 100 });
      assert.equal(st.text, 'bye');
      assert.equal(st.closed, false, 'a half-closed connection stays open');
      await new Promise<void>((resolve) => sendPattern(s, 8 * MB, resolve));
      s.end();
      await waitFor('the app to get everything and the FIN', () => app.seen.get(k)?.fin === true, { attempts: 300, intervalMs: 100 });
      assert.equal(app.seen.get(k)!.bytes, 8 * MB);
      assert.equal(app.seen.get(k)!.hash, expectedHash(8 * MB));
      await waitFor('the connection to close', () => st.closed, { attempts: 100 });
    });

    test('an RST from the app closes the client connection', async () => {
      const s = await connectTcp(port);
      const st = receiver(s);
      s.write(`rst ${id()}\n`);
      // The proxy closes its side (FIN, or an RST); the client, allowHalfOpen, sees an end or an error.
      await waitFor('the client connection to close', () => st.ended || st.closed, { attempts: 100 });
      assert.equal(st.bytes, 0);
      assert.ok(proxy.isRunning());
    });

    test('an RST from the client closes the app connection', async () => {
      const k = id();
      const s = await connectTcp(port);
      s.on('error', () => undefined);
      s.write(`hold ${k}\n`);
      await waitFor('the app to see the connection', () => app.seen.has(k), { attempts: 100 });
      s.resetAndDestroy();
      await waitFor('the app connection to close', () => app.seen.get(k)!.closed, { attempts: 100 });
      assert.ok(proxy.isRunning());
    });

    /** The counted listener's byte counters and its cluster's. */
    async function byteCounters(): Promise<{ dRx: number; dTx: number; uRx: number; uTx: number }> {
      const m = await proxy.stats();
      return {
        dRx: m.get('tcp.counted.downstream_cx_rx_bytes_total') ?? 0,
        dTx: m.get('tcp.counted.downstream_cx_tx_bytes_total') ?? 0,
        uRx: m.get('cluster.counted.upstream_cx_rx_bytes_total') ?? 0,
        uTx: m.get('cluster.counted.upstream_cx_tx_bytes_total') ?? 0,
      };
    }

    test('stats: the byte counters equal the bytes each side sent; the active gauges go up and back', async () => {
      const before = await proxy.stats();
      const c0 = await byteCounters();
      const listenerActive = `listener.127.0.0.1_${proxy.port('COUNTED_LISTENER_PORT')}.downstream_cx_active`;
      const clusterActive0 = before.get('cluster.counted.upstream_cx_active') ?? 0;
      const k = id();
      const line = `bulk ${k} ${3 * MB + 17}\n`;
      const s = await connectTcp(proxy.port('COUNTED_LISTENER_PORT'));
      const st = receiver(s);
      s.write(line);
      await waitFor('the app to see it', () => app.seen.has(k), { attempts: 100 });
      const during = await proxy.stats();
      assert.equal(during.get(listenerActive), 1);
      assert.equal(during.get('cluster.counted.upstream_cx_active'), clusterActive0 + 1);
      await new Promise<void>((resolve) => sendPattern(s, 5 * MB + 3, resolve));
      s.end();
      await waitFor('the close', () => st.closed, { attempts: 300, intervalMs: 100 });
      assert.equal(st.bytes, 3 * MB + 17);
      const sent = line.length + 5 * MB + 3;
      const want = { dRx: c0.dRx + sent, dTx: c0.dTx + 3 * MB + 17, uRx: c0.uRx + 3 * MB + 17, uTx: c0.uTx + sent };
      let got = await byteCounters();
      await waitFor('the counters', async () => {
        got = await byteCounters();
        return JSON.stringify(got) === JSON.stringify(want);
      }, { attempts: 50 }).catch(() => undefined);
      assert.deepEqual(got, want);
      await waitFor('the active gauges to come back', async () => {
        const m = await proxy.stats();
        return m.get(listenerActive) === 0 && m.get('cluster.counted.upstream_cx_active') === clusterActive0;
      }, { attempts: 50 });
    });

    test('stats while a connection is open: the byte counters move with the bytes, and closing adds nothing twice', async () => {
      const listenerActive = `listener.127.0.0.1_${proxy.port('COUNTED_LISTENER_PORT')}.downstream_cx_active`;
      const c0 = await byteCounters();
      const s = await connectTcp(proxy.port('COUNTED_LISTENER_PORT'));
      const st = receiver(s);
      const first = 'echo\n' + 'x'.repeat(1000);
      s.write(first);
      await waitFor('the echo', () => st.bytes === 1000, { attempts: 100 });
      // Every byte has passed the proxy both ways and the connection is still open.
      assert.deepEqual(await byteCounters(), { dRx: c0.dRx + first.length, dTx: c0.dTx + 1000, uRx: c0.uRx + 1000, uTx: c0.uTx + first.length });
      const more = 2 * MB + 5;
      await new Promise<void>((resolve) => sendPattern(s, more, resolve));
      await waitFor('the second echo', () => st.bytes === 1000 + more, { attempts: 300, intervalMs: 50 });
      const c2 = await byteCounters();
      const moved = { rx: first.length + more, tx: 1000 + more };
      assert.deepEqual(c2, { dRx: c0.dRx + moved.rx, dTx: c0.dTx + moved.tx, uRx: c0.uRx + moved.tx, uTx: c0.uTx + moved.rx });
      assert.equal(st.closed, false);
      s.end();
      await waitFor('the proxy to close the connection', async () => st.closed && (await proxy.stats()).get(listenerActive) === 0, { attempts: 100 });
      assert.deepEqual(await byteCounters(), c2);
    });

    test('idle_timeout: traffic every 200 ms keeps the connection past it, silence closes it', async () => {
      const before = (await proxy.stats()).get('tcp.idle.idle_timeout') ?? 0;
      const s = await connectTcp(proxy.port('IDLE_LISTENER_PORT'));
      const st = receiver(s);
      s.write('echo\n');
      // 12 × 200 ms = 2.4 s of traffic against a 1 s idle_timeout (alternating directions: the
      // client's bytes go up, the echo comes down).
      for (let i = 0; i < 12; i++) {
        s.write('x');
        await sleep(200);
        assert.equal(st.closed || st.ended, false, `closed after ${i} pings despite traffic`);
      }
      assert.equal(st.bytes, 12);
      await waitFor('the idle connection to be closed', () => st.ended || st.closed, { attempts: 100 });
      await waitFor('idle_timeout to count it', async () => ((await proxy.stats()).get('tcp.idle.idle_timeout') ?? 0) === before + 1, { attempts: 50 });
    });
  });
}

// ------------------------------------------------------------------ closeAll: a listener update

describe('tcp_proxy relay: a listener update closes the old generation after the drain time', () => {
  let dir: string;
  let app: Awaited<ReturnType<typeof startApp>>;

  const lds = (version: string, appPort: number, listenPort: number) => ({
    version_info: version,
    resources: [
      {
        '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
        name: 'relay',
        address: { socket_address: { address: '127.0.0.1', port_value: listenPort } },
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.tcp_proxy',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                  stat_prefix: `relay_${version}`,
                  cluster: 'app',
                },
              },
            ],
          },
        ],
      },
    ],
  });

  for (const relay of ['splice', 'stream'] as const) {
    test(`${relay}: open connections are closed at both ends, the relay lets go of them`, { skip: relay === 'splice' && !IS_LINUX }, async () => {
      dir ??= tempDir('switchyard-relay-');
      app ??= await startApp();
      const listenPort = await freePort();
      const ldsFile = path.join(dir, `lds-${relay}.yaml`);
      fs.writeFileSync(ldsFile, yaml.dump(lds('v1', app.port, listenPort)));
      const proxy = await startProxy(
        `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
dynamic_resources:
  lds_config: { path_config_source: { path: ${ldsFile} } }
static_resources:
${appCluster(app.port)}`,
        { args: ['--drain-time-s', '1'], env: relay === 'stream' ? { SWITCHYARD_TCP_PROXY_RELAY: 'stream' } : {}, listeners: [listenPort] },
      );
      const clients = [];
      for (let i = 0; i < 3; i++) {
        const k = `drain-${relay}-${i}`;
        const s = await connectTcp(listenPort);
        const st = receiver(s);
        s.write(`hold ${k}\n`);
        await waitFor('the app to see it', () => app.seen.has(k), { attempts: 100 });
        clients.push({ k, st });
      }
      if (relay === 'splice' && fs.existsSync(`/proc/${proxy.pid}/fd`)) assert.equal(duplicatedSockets(proxy.pid), 6);
      // A new version of the listener: the old generation drains for 1 s, then closeAll.
      const tmp = ldsFile + '.tmp';
      fs.writeFileSync(tmp, yaml.dump(lds('v2', app.port, listenPort)));
      fs.renameSync(tmp, ldsFile);
      for (const c of clients) {
        await waitFor(`client ${c.k} to be closed`, () => c.st.ended || c.st.closed, { attempts: 150, intervalMs: 100 });
        await waitFor(`the app side of ${c.k} to be closed`, () => app.seen.get(c.k)!.closed, { attempts: 100 });
      }
      if (fs.existsSync(`/proc/${proxy.pid}/fd`)) assert.equal(duplicatedSockets(proxy.pid), 0);
      // The new generation serves.
      const s = await connectTcp(listenPort);
      const st = receiver(s);
      s.write('echo\nagain');
      await waitFor('the echo', () => st.text.includes('again'), { attempts: 100 });
      s.end();
      await waitFor('the close', () => st.closed, { attempts: 100 });
      await proxy.stop();
    });
  }
});
