// Transparent sockets against real TPROXY rules, in three pods joined A — B — C:
//
//   A (client, 10.N.0.1)  ──veth──  B (the "sidecar", 10.N.0.2 | 10.201.0.1)  ──veth──  C (server, 10.201.0.2)
//
// A routes C's subnet via B and C routes everything via B, but B does NOT forward (ip_forward
// stays 0): a packet crosses B only if B's interception carries it. In B (mangle PREROUTING):
//   -m socket            → mark 1, ACCEPT   packets of sockets B already has, transparent ones
//                                            included: this returns C's replies to A's address
//                                            (non-local to B) to B's upstream socket
//   --dport 9999         → TPROXY :15006    (listeners made with transparentListenerFd)
//   --dport 9998         → TPROXY :15007    (a listener made transparent after listen())
//   --dport 9997         → TPROXY :15009    (listenTransparent in a node:cluster worker)
//   --dport 8080         → TPROXY :15008    (a proxy: connectTransparent to the original
//                                            destination with the client's address as source)
//   ip rule fwmark 1 lookup 100; table 100: local 0.0.0.0/0 dev lo   (and the same for IPv6)
// (https://docs.kernel.org/networking/tproxy.html). Needs root; skips with the reason otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPod, createPodPair, ensureUser, netnsSkipReason, sh, type Pod } from './netns';
import { Agent } from './agent';

const skip = netnsSkipReason();

const C4 = '10.201.0.2';
const C6 = 'fd00:201::2';

/** Joins b and c with a veth pair on 10.201.0.0/24 and fd00:201::/64 (b = .1, c = .2). */
function joinBC(b: Pod, c: Pod): void {
  const ib = `vsy${process.pid % 10000}bc`;
  const ic = `vsy${process.pid % 10000}cb`;
  sh('ip', ['link', 'add', ib, 'netns', b.ns, 'type', 'veth', 'peer', 'name', ic, 'netns', c.ns]);
  for (const [p, i, h] of [[b, ib, 1], [c, ic, 2]] as const) {
    p.exec('ip', ['addr', 'add', `10.201.0.${h}/24`, 'dev', i]);
    p.exec('ip', ['-6', 'addr', 'add', `fd00:201::${h}/64`, 'dev', i, 'nodad']);
    p.exec('ip', ['link', 'set', i, 'up']);
  }
}

function tproxyRules(b: Pod): void {
  for (const [ipt, ip, any] of [['iptables', ['ip'], '0.0.0.0/0'], ['ip6tables', ['ip', '-6'], '::/0']] as const) {
    b.exec(ipt, ['-t', 'mangle', '-N', 'DIVERT']);
    b.exec(ipt, ['-t', 'mangle', '-A', 'DIVERT', '-j', 'MARK', '--set-mark', '1']);
    b.exec(ipt, ['-t', 'mangle', '-A', 'DIVERT', '-j', 'ACCEPT']);
    b.exec(ipt, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-m', 'socket', '-j', 'DIVERT']);
    for (const [dport, onPort] of [['9999', '15006'], ['9998', '15007'], ['9997', '15009'], ['8080', '15008']]) {
      b.exec(ipt, ['-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '--dport', dport, '-j', 'TPROXY', '--on-port', onPort, '--tproxy-mark', '1']);
    }
    // Counts B's outgoing packets that carry SO_MARK 7 (the `mark` option).
    b.exec(ipt, ['-t', 'mangle', '-A', 'OUTPUT', '-m', 'mark', '--mark', '7']);
    b.exec(ip[0], [...ip.slice(1), 'rule', 'add', 'fwmark', '1', 'lookup', '100']);
    b.exec(ip[0], [...ip.slice(1), 'route', 'add', 'local', any, 'dev', 'lo', 'table', '100']);
  }
}

function markedPackets(b: Pod, ipt: 'iptables' | 'ip6tables'): number {
  const out = b.exec(ipt, ['-t', 'mangle', '-L', 'OUTPUT', '-v', '-x', '-n']).stdout;
  const line = out.split('\n').find((l) => /mark match 0x7\b/.test(l));
  assert.ok(line, `no mark rule in:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

describe('transparent sockets with TPROXY (pods A — B — C)', { skip }, () => {
  let a: Pod;
  let b: Pod;
  let c: Pod;
  let client: Agent;
  let sidecar: Agent;
  let server: Agent;

  before(async () => {
    ({ a, b } = createPodPair());
    c = createPod('c');
    joinBC(b, c);
    a.exec('ip', ['route', 'add', '10.201.0.0/24', 'via', b.ip4]);
    a.exec('ip', ['-6', 'route', 'add', 'fd00:201::/64', 'via', b.ip6]);
    c.exec('ip', ['route', 'add', 'default', 'via', '10.201.0.1']);
    c.exec('ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:201::1']);
    assert.equal(b.exec('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim(), '0', 'B must not forward');
    tproxyRules(b);
    [client, sidecar, server] = await Promise.all([Agent.start(a), Agent.start(b), Agent.start(c)]);
    await sidecar.ok({ op: 'listen', name: 'info4', host: '0.0.0.0', port: 15006, how: 'fd', serve: 'info' });
    await sidecar.ok({ op: 'listen', name: 'info6', host: '::', port: 15006, ipv6Only: true, how: 'fd', serve: 'info' });
    await sidecar.ok({ op: 'listen', name: 'after', host: '::', port: 15007, how: 'after', serve: 'info' });
    await sidecar.ok({ op: 'listen', name: 'proxy', host: '::', port: 15008, how: 'listenTransparent', serve: 'proxy' });
    await server.ok({ op: 'listen', name: 'whoami', host: '::', port: 8080, how: 'plain', serve: 'whoami' });
    await server.ok({ op: 'listen', name: 'echo', host: '::', port: 8082, how: 'plain', serve: 'echo' });
    await server.ok({ op: 'listen', name: 'half', host: '::', port: 8083, how: 'plain', serve: 'half' });
  });
  after(() => {
    for (const ag of [client, sidecar, server]) ag?.stop();
  });

  const parse = (r: Record<string, any>) => {
    assert.equal(r.ok, true, `connect failed: ${r.code} ${r.message}`);
    return JSON.parse(String(r.data).trim());
  };

  test('IPv4: A → B:9999 arrives on the transparent listener :15006 with local B:9999 and remote A', async () => {
    const r = parse(await client.request({ op: 'connect', host: b.ip4, port: 9999 }));
    assert.deepEqual(r.local, { address: b.ip4, port: 9999 });
    assert.equal(r.remote.address, a.ip4);
    assert.equal(r.orig, null, 'TPROXY keeps the destination: the local address is the original one');
  });

  test('IPv6: A → [B]:9999 arrives on the IPV6_TRANSPARENT listener with local [B]:9999', async () => {
    const r = parse(await client.request({ op: 'connect', host: b.ip6, port: 9999 }));
    assert.deepEqual(r.local, { address: b.ip6, port: 9999 });
    assert.equal(r.remote.address, a.ip6);
  });

  test('a destination that is not B (C:9999, routed via B) arrives with local C:9999', async () => {
    const r4 = parse(await client.request({ op: 'connect', host: C4, port: 9999 }));
    assert.deepEqual(r4.local, { address: C4, port: 9999 });
    assert.equal(r4.remote.address, a.ip4);
    const r6 = parse(await client.request({ op: 'connect', host: C6, port: 9999 }));
    assert.deepEqual(r6.local, { address: C6, port: 9999 });
    assert.equal(r6.remote.address, a.ip6);
  });

  test('setListenerTransparent on a listening dual-stack server (the cluster-worker path)', async () => {
    const r4 = parse(await client.request({ op: 'connect', host: C4, port: 9998 }));
    assert.deepEqual(r4.local, { address: `::ffff:${C4}`, port: 9998 });
    const r6 = parse(await client.request({ op: 'connect', host: C6, port: 9998 }));
    assert.deepEqual(r6.local, { address: C6, port: 9998 });
  });

  test('listenTransparent in a node:cluster worker (listen({ fd }) cannot work there)', async () => {
    await sidecar.ok({ op: 'listenInWorker', name: 'worker', host: '::', port: 15009, serve: 'info' });
    const r4 = parse(await client.request({ op: 'connect', host: C4, port: 9997 }));
    assert.deepEqual(r4.local, { address: `::ffff:${C4}`, port: 9997 });
    assert.equal(r4.remote.address, `::ffff:${a.ip4}`);
    const r6 = parse(await client.request({ op: 'connect', host: C6, port: 9997 }));
    assert.deepEqual(r6.local, { address: C6, port: 9997 });
  });

  test('end to end: A → C:8080 is intercepted by B, which connects to C keeping A as the source', async () => {
    for (const [host, aAddr] of [[C4, a.ip4], [C6, a.ip6]]) {
      const r = await client.request({ op: 'connect', host, port: 8080, send: 'ping' });
      assert.equal(r.ok, true, `${host}: ${r.code} ${r.message}`);
      const [first, rest] = [String(r.data).split('\n')[0], String(r.data).slice(String(r.data).indexOf('\n') + 1)];
      // C saw A's address (B does not forward: only B's transparent upstream can have carried it).
      assert.equal(first.split(' ')[0].replace(/^::ffff:/, ''), aAddr, `C saw ${first}`);
      assert.equal(rest, 'ping', 'echoed through both transparent hops, then half-closed');
    }
    const accepted = sidecar.events.filter((e) => e.event === 'accepted');
    assert.equal(accepted.length, 2);
    assert.equal(sidecar.events.filter((e) => e.event === 'upstream-error').length, 0);
  });

  test('connectTransparent from B: C sees A’s address, and a fixed source port', async () => {
    const r = await sidecar.request({ op: 'connect', host: C4, port: 8080, transparent: { localAddress: a.ip4 } });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    assert.equal(r.connected, true);
    assert.equal(r.local.address, a.ip4);
    assert.equal(String(r.data).split(' ')[0].replace(/^::ffff:/, ''), a.ip4);

    const p = await sidecar.request({ op: 'connect', host: C6, port: 8080, transparent: { localAddress: a.ip6, localPort: 40123 } });
    assert.equal(p.ok, true, `${p.code} ${p.message}`);
    assert.equal(String(p.data).trim(), `${a.ip6} 40123`);

    // A v4-mapped source (what a dual-stack listener reports for an IPv4 client) works for an IPv4 upstream.
    const m = await sidecar.request({ op: 'connect', host: C4, port: 8080, transparent: { localAddress: `::ffff:${a.ip4}` } });
    assert.equal(m.ok, true, `${m.code} ${m.message}`);
    assert.equal(String(m.data).split(' ')[0].replace(/^::ffff:/, ''), a.ip4);
  });

  test('connectTransparent: mark sets SO_MARK on the upstream packets', async () => {
    const before4 = markedPackets(b, 'iptables');
    const r = await sidecar.request({ op: 'connect', host: C4, port: 8080, transparent: { localAddress: a.ip4, mark: 7 } });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    assert.ok(markedPackets(b, 'iptables') > before4, 'packets with mark 7 left B');
    const before6 = markedPackets(b, 'ip6tables');
    const u = await sidecar.request({ op: 'connect', host: C6, port: 8080, transparent: { localAddress: a.ip6 } });
    assert.equal(u.ok, true, `${u.code} ${u.message}`);
    assert.equal(markedPackets(b, 'ip6tables'), before6, 'no mark unless asked');
  });

  test('connectTransparent: ECONNREFUSED arrives as an error event', async () => {
    for (const [host, local] of [[C4, a.ip4], [C6, a.ip6]]) {
      const r = await sidecar.request({ op: 'connect', host, port: 8089, transparent: { localAddress: local } });
      assert.equal(r.ok, false);
      assert.equal(r.code, 'ECONNREFUSED', `${host}: ${r.message}`);
      assert.equal(r.connected, false);
    }
  });

  test('connectTransparent: address family mismatch and bad literals are error events too', async () => {
    const r = await sidecar.request({ op: 'connect', host: C6, port: 8080, transparent: { localAddress: a.ip4 } });
    assert.equal(r.code, 'EAFNOSUPPORT');
    const n = await sidecar.request({ op: 'connect', host: 'c.example', port: 8080, transparent: { localAddress: a.ip4 } });
    assert.equal(n.code, 'ERR_INVALID_IP_ADDRESS');
  });

  test('connectTransparent: backpressure (write() false, drain) and 8 MiB echoed intact', async () => {
    const bytes = 8 * 1024 * 1024;
    const r = await sidecar.request({ op: 'connect', host: C4, port: 8082, bulkBytes: bytes, transparent: { localAddress: a.ip4 } }, 60_000);
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    assert.equal(r.received, bytes);
    assert.equal(r.same, true, 'echoed bytes match');
    assert.ok(r.writeFalse > 0 && r.drains === r.writeFalse, `write() returned false ${r.writeFalse} times, drain ${r.drains}`);
  });

  test('connectTransparent: half-close both ways (server ends first, client still sends)', async () => {
    const r = await sidecar.request({ op: 'connect', host: C4, port: 8083, send: 'before,', afterFin: 'after-fin', transparent: { localAddress: a.ip4 } });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    assert.equal(r.data, 'server-done\n');
    const ev = await server.waitEvent((e) => e.event === 'half');
    assert.equal(ev.data, 'before,after-fin');
  });

  test('without CAP_NET_ADMIN: EPERM naming the option and the capability', async (t) => {
    const user = ensureUser(1337);
    const unpriv = await Agent.start(b, user);
    t.after(() => unpriv.stop());
    const l = await unpriv.request({ op: 'listen', name: 'x', host: '0.0.0.0', port: 15100, how: 'fd', serve: 'info' });
    assert.equal(l.ok, false);
    assert.equal(l.code, 'EPERM');
    assert.match(l.message, /transparent listener 0\.0\.0\.0:15100: setsockopt IP_TRANSPARENT EPERM: .*needs CAP_NET_ADMIN/);
    const l6 = await unpriv.request({ op: 'listen', name: 'y', host: '::', port: 15101, how: 'after', serve: 'info' });
    assert.equal(l6.code, 'EPERM');
    assert.match(l6.message, /IPV6_TRANSPARENT EPERM.*CAP_NET_ADMIN/);
    const c4 = await unpriv.request({ op: 'connect', host: C4, port: 8080, transparent: { localAddress: a.ip4 } });
    assert.equal(c4.ok, false);
    assert.equal(c4.code, 'EPERM');
    assert.match(c4.message, /transparent connect from .*: setsockopt IP_TRANSPARENT EPERM.*CAP_NET_ADMIN/);
  });
});
