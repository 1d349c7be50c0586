// Transparent interception end to end, as under Istio: two pods (network namespaces joined
// by a veth pair), each with `switchyard init` rules and a sidecar running as uid 1337 with
// Istio's listener layout (test/fixtures/pod_sidecar.yaml), and apps that report the peer
// address they see (test/netns/fixtures/apps.js). The app in pod A connects to pod B; the
// connection passes A's virtual outbound listener and B's virtual inbound listener (counted
// in each sidecar's stats) and reaches B's app from 127.0.0.6 (::6 over IPv6).
// Root only: skipped with the reason otherwise.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, parseStats, readFixture, sleep, substitute, tempDir } from '../integration/harness';
import { cliFor, createPodPair, ensureUser, netnsSkipReason, type Pod, type RunAs } from './netns';

const skip = netnsSkipReason();
const APPS = path.join(__dirname, 'fixtures', 'apps.js');
const CLIENT = path.join(__dirname, 'fixtures', 'client.js');

interface Sidecar {
  pod: Pod;
  child: ChildProcess;
  stderr(): string;
}

function waitForLine(child: ChildProcess, want: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what} not ready in 15 s: ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(want)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code}: ${err}`));
    });
  });
}

function startApps(pod: Pod, name: string): Promise<void> {
  return waitForLine(pod.spawn(process.execPath, [APPS, name]), 'ready', `apps in ${name}`);
}

/** Starts the sidecar in `pod` as `user`, from the pod bootstrap, and waits for /ready. */
async function startSidecar(pod: Pod, user: RunAs, vars: Record<string, string>): Promise<Sidecar> {
  const dir = tempDir('switchyard-pod-');
  fs.chmodSync(dir, 0o755); // the sidecar's uid must read its bootstrap
  const file = path.join(dir, 'sidecar.yaml');
  fs.writeFileSync(file, substitute(readFixture('pod_sidecar.yaml'), { INBOUND_LISTENER_FILTERS: '', ...vars }), { mode: 0o644 });
  const child = pod.spawn(process.execPath, [cliFor(user), 'proxy', '-c', file, '--drain-time-s', '1'], { as: user });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`sidecar in ${vars.POD_NAME} exited ${child.exitCode}: ${stderr}`);
    const r = pod.exec('curl', ['-s', '-m', '2', 'http://127.0.0.1:15000/ready'], { allowFail: true });
    if (r.stdout.trim() === 'LIVE') return { pod, child, stderr: () => stderr };
    await sleep(100);
  }
  throw new Error(`sidecar in ${vars.POD_NAME} not ready: ${stderr}`);
}

/** Stops a sidecar (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
async function stopSidecar(s: Sidecar): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function stats(s: Sidecar): Map<string, number> {
  return parseStats(s.pod.exec('curl', ['-s', '-m', '5', 'http://127.0.0.1:15000/stats']).stdout);
}

function stat(s: Sidecar, name: string): number {
  return stats(s).get(name) ?? 0;
}

/** Runs test/netns/fixtures/client.js in `pod` (as root, like an app). */
function client(pod: Pod, ...args: string[]): { data: string; error?: string } {
  return JSON.parse(pod.exec(process.execPath, [CLIENT, ...args]).stdout.trim());
}

/** curl in `pod`; returns the status, headers and body. */
function curlIn(pod: Pod, args: string[]): { status: number; headers: Record<string, string>; body: string } {
  const r = pod.exec('curl', ['-s', '-i', '-m', '10', ...args]);
  const [head, ...rest] = r.stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const OUT = 'listener.[::]_15001.downstream_cx_total';
const IN = 'listener.[::]_15006.downstream_cx_total';

describe('interception between two pods (REDIRECT)', { skip }, () => {
  let a: Pod;
  let b: Pod;
  let sa: Sidecar;
  let sb: Sidecar;
  let bAlt: string;

  before(async () => {
    ({ a, b } = createPodPair());
    const proxyUser = ensureUser(1337);
    // A second address on B: A excludes it from capture (-x), B does not.
    bAlt = b.ip4.replace(/\.2$/, '.3');
    b.exec('ip', ['addr', 'add', `${bAlt}/24`, 'dev', b.iface]);
    const common = ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337', '-m', 'REDIRECT'];
    a.exec(process.execPath, [CLI, 'init', ...common, '-o', '7000', '-x', `${bAlt}/32`]);
    b.exec(process.execPath, [CLI, 'init', ...common, '-d', '7000']);
    await startApps(b, 'b');
    sa = await startSidecar(a, proxyUser, { POD_NAME: 'a', PEER_IP: b.ip4, TRANSPARENT: 'false' });
    sb = await startSidecar(b, proxyUser, { POD_NAME: 'b', PEER_IP: a.ip4, TRANSPARENT: 'false' });
  });

  after(() => {
    // Kept for the failure output of the last test: the sidecars' own logs.
    if (process.exitCode) console.error(sa?.stderr(), sb?.stderr());
  });

  test('TCP: A → B:9000 passes both sidecars once each and reaches the app from 127.0.0.6', () => {
    const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
    const pass0 = stat(sa, 'cluster.PassthroughCluster.upstream_cx_total');
    const inb0 = stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total');
    const r = client(a, 'send', b.ip4, '9000', 'hello over the mesh');
    assert.equal(r.data, 'remote=127.0.0.6;hello over the mesh');
    // Exactly one connection each: the sidecars' own upstream connections were not redirected again.
    assert.equal(stat(sa, OUT), out0 + 1);
    assert.equal(stat(sa, 'cluster.PassthroughCluster.upstream_cx_total'), pass0 + 1);
    assert.equal(stat(sb, IN), in0 + 1);
    assert.equal(stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total'), inb0 + 1);
  });

  test('HTTP: routed by Host in A (hand-off to the 8080 listener), HTTP chain by destination port in B', () => {
    const h0 = stat(sa, 'listener.0.0.0.0_8080.downstream_cx_total');
    const r = curlIn(a, ['--resolve', `b.test:8080:${b.ip4}`, 'http://b.test:8080/hello']);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { app: 'b', port: 8080, remote: '127.0.0.6', host: 'b.test:8080', path: '/hello' });
    assert.equal(r.headers['x-outbound-sidecar'], 'a');
    assert.equal(r.headers['x-inbound-sidecar'], 'b');
    assert.equal(stat(sa, 'listener.0.0.0.0_8080.downstream_cx_total'), h0 + 1);
    // Another Host on the same address and port goes to another service (B's 8081) ...
    const alt = curlIn(a, ['--resolve', `b-alt.test:8080:${b.ip4}`, 'http://b-alt.test:8080/alt']);
    assert.equal(alt.status, 200);
    assert.equal(JSON.parse(alt.body).port, 8081);
    assert.equal(alt.headers['x-inbound-sidecar'], undefined, 'B has no HTTP chain for 8081: TCP passthrough');
    // ... and an unknown Host passes through to where the client was going.
    const any = curlIn(a, ['-H', 'Host: unknown.test', `http://${b.ip4}:8080/any`]);
    assert.equal(any.status, 200);
    assert.equal(JSON.parse(any.body).remote, '127.0.0.6');
    assert.equal(any.headers['x-outbound-sidecar'], 'a');
  });

  test('a server-first protocol works through both sidecars (after B inbound listener_filters_timeout)', () => {
    const t0 = stat(sb, 'listener.[::]_15006.downstream_pre_cx_timeout');
    const r = client(a, 'banner', b.ip4, '2525');
    assert.equal(r.error, undefined);
    assert.equal(r.data, '220 b ready\r\n250 hi\r\n');
    assert.equal(stat(sb, 'listener.[::]_15006.downstream_pre_cx_timeout'), t0 + 1);
  });

  test('IPv6: A → [B]:9000 passes both sidecars and reaches the app from ::6', () => {
    const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
    const r = client(a, 'send', b.ip6, '9000', 'hello v6');
    assert.equal(r.data, 'remote=::6;hello v6');
    assert.equal(stat(sa, OUT), out0 + 1);
    assert.equal(stat(sb, IN), in0 + 1);
    assert.ok(stat(sb, 'cluster.InboundPassthroughClusterIpv6.upstream_cx_total') >= 1);
  });

  test('excluded port (-o in A, -d in B) bypasses both sidecars', () => {
    const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
    const r = client(a, 'recv', b.ip4, '7000');
    assert.equal(r.data, `remote=${a.ip4}\n`);
    assert.equal(stat(sa, OUT), out0);
    assert.equal(stat(sb, IN), in0);
  });

  test('excluded CIDR (-x in A) bypasses A\'s sidecar; B still captures inbound', () => {
    const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
    const r = client(a, 'send', bAlt, '9000', 'to the excluded address');
    assert.equal(r.data, 'remote=127.0.0.6;to the excluded address');
    assert.equal(stat(sa, OUT), out0);
    assert.equal(stat(sb, IN), in0 + 1);
  });
});

// Istio's TPROXY inbound mode: B's init captures inbound in the mangle table (TPROXY target,
// fwmark 1337 → local routing table 133) and B's virtual inbound listener is transparent, so
// its sidecar needs CAP_NET_ADMIN (kept across the uid change as an ambient capability). The
// original destination is the accepted socket's own local address (there is no NAT).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto (transparent)
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/listener_filters/original_src_filter
describe('interception between two pods (TPROXY inbound in B)', { skip }, () => {
  let a: Pod;
  let b: Pod;
  let sa: Sidecar;
  let sb: Sidecar;
  let bUser: RunAs;
  const ORIGINAL_SRC =
    '- { name: envoy.filters.listener.original_src, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.original_src.v3.OriginalSrc, mark: 1337 } }';

  before(async () => {
    ({ a, b } = createPodPair());
    const proxyUser = ensureUser(1337);
    bUser = { ...proxyUser, capabilities: ['net_admin'] };
    const common = ['-p', '15001', '-z', '15006', '-u', '1337', '-g', '1337'];
    a.exec(process.execPath, [CLI, 'init', ...common, '-m', 'REDIRECT', '-o', '7000']);
    b.exec(process.execPath, [CLI, 'init', ...common, '-m', 'TPROXY', '-d', '7000']);
    await startApps(b, 'b');
    sa = await startSidecar(a, proxyUser, { POD_NAME: 'a', PEER_IP: b.ip4, TRANSPARENT: 'false' });
    sb = await startSidecar(b, bUser, { POD_NAME: 'b', PEER_IP: a.ip4, TRANSPARENT: 'true' });
  });

  after(() => {
    if (process.exitCode) console.error(sa?.stderr(), sb?.stderr());
  });

  test('B\'s rules are the TPROXY ones (mangle ISTIO_TPROXY, fwmark 1337 → table 133)', () => {
    const mangle = b.exec('iptables-save', ['-t', 'mangle']).stdout;
    assert.match(mangle, /-A ISTIO_TPROXY .*-j TPROXY .*--on-port 15006/);
    assert.match(mangle, /-A PREROUTING -p tcp -j ISTIO_INBOUND/);
    assert.doesNotMatch(b.exec('iptables-save', ['-t', 'nat']).stdout, /-A PREROUTING -p tcp -j ISTIO_INBOUND/, 'no NAT capture of inbound');
    assert.match(b.exec('ip', ['rule', 'show']).stdout, /fwmark 0x539 lookup 133/);
  });

  test('TCP: A → B:9000 is taken by B\'s transparent listener and reaches the app from 127.0.0.6', () => {
    const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
    const inb0 = stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total');
    const r = client(a, 'send', b.ip4, '9000', 'hello through tproxy');
    assert.equal(r.error, undefined);
    assert.equal(r.data, 'remote=127.0.0.6;hello through tproxy');
    assert.equal(stat(sa, OUT), out0 + 1);
    assert.equal(stat(sb, IN), in0 + 1);
    assert.equal(stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total'), inb0 + 1);
  });

  test('HTTP: A → b.test:8080 passes B\'s HTTP chain and reaches the app from 127.0.0.6', () => {
    const in0 = stat(sb, IN);
    const r = curlIn(a, ['--resolve', `b.test:8080:${b.ip4}`, 'http://b.test:8080/tproxy']);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { app: 'b', port: 8080, remote: '127.0.0.6', host: 'b.test:8080', path: '/tproxy' });
    assert.equal(r.headers['x-outbound-sidecar'], 'a');
    assert.equal(r.headers['x-inbound-sidecar'], 'b');
    assert.equal(stat(sb, IN), in0 + 1);
  });

  test('excluded port (-d 7000) bypasses B\'s TPROXY capture', () => {
    const in0 = stat(sb, IN);
    const r = client(a, 'recv', b.ip4, '7000');
    assert.equal(r.data, `remote=${a.ip4}\n`);
    assert.equal(stat(sb, IN), in0);
  });

  describe('with original_src (mark 1337) on B\'s inbound listener', () => {
    before(async () => {
      await stopSidecar(sb);
      sb = await startSidecar(b, bUser, { POD_NAME: 'b', PEER_IP: a.ip4, TRANSPARENT: 'true', INBOUND_LISTENER_FILTERS: ORIGINAL_SRC });
    });

    test('TCP: the app sees A\'s address, and its replies return through B\'s sidecar', () => {
      const [out0, in0] = [stat(sa, OUT), stat(sb, IN)];
      const inb0 = stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total');
      const r = client(a, 'send', b.ip4, '9000', 'hello as myself');
      assert.equal(r.error, undefined);
      assert.equal(r.data, `remote=${a.ip4};hello as myself`);
      assert.equal(stat(sa, OUT), out0 + 1);
      assert.equal(stat(sb, IN), in0 + 1, 'exactly one inbound connection: the upstream was not captured again');
      assert.equal(stat(sb, 'cluster.InboundPassthroughClusterIpv4.upstream_cx_total'), inb0 + 1);
    });

    test('HTTP: the app sees A\'s address through B\'s HTTP chain', () => {
      const in0 = stat(sb, IN);
      const r = curlIn(a, ['--resolve', `b.test:8080:${b.ip4}`, 'http://b.test:8080/src']);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { app: 'b', port: 8080, remote: a.ip4, host: 'b.test:8080', path: '/src' });
      assert.equal(r.headers['x-inbound-sidecar'], 'b');
      assert.equal(stat(sb, IN), in0 + 1);
    });
  });
});
