// originalDst (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST) against real iptables REDIRECT rules in
// network namespaces: nat OUTPUT inside one pod (the sidecar's outbound capture), and nat
// PREROUTING across a pod pair (inbound capture). Needs root; skips with the reason otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPodPair, netnsSkipReason, type Pod } from './netns';
import { Agent } from './agent';

const skip = netnsSkipReason();

function info(r: Record<string, any>): { local: { address: string; port: number }; remote: { address: string; port: number }; orig: unknown } {
  assert.equal(r.ok, true, `connect failed: ${r.code} ${r.message}`);
  return JSON.parse(String(r.data).trim());
}

describe('originalDst: nat OUTPUT REDIRECT inside one pod', { skip }, () => {
  let a: Pod;
  let b: Pod;
  let agent: Agent;

  before(async () => {
    ({ a, b } = createPodPair());
    // v4 :7777 → the IPv4 listener, v6 :7777 → the IPv6-only listener, :7778 (both families) →
    // the dual-stack listener on [::].
    a.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '7777', '-j', 'REDIRECT', '--to-ports', '15001']);
    a.exec('ip6tables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '7777', '-j', 'REDIRECT', '--to-ports', '15002']);
    a.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '7778', '-j', 'REDIRECT', '--to-ports', '15003']);
    a.exec('ip6tables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '7778', '-j', 'REDIRECT', '--to-ports', '15003']);
    agent = await Agent.start(a);
    await agent.ok({ op: 'listen', name: 'v4', host: '0.0.0.0', port: 15001, how: 'plain', serve: 'info' });
    await agent.ok({ op: 'listen', name: 'v6', host: '::', port: 15002, ipv6Only: true, how: 'plain', serve: 'info' });
    await agent.ok({ op: 'listen', name: 'dual', host: '::', port: 15003, how: 'plain', serve: 'info' });
  });
  after(() => agent?.stop());

  test('IPv4: a connection to 10.x:7777 reports 10.x:7777', async () => {
    const r = info(await agent.request({ op: 'connect', host: b.ip4, port: 7777 }));
    assert.deepEqual(r.orig, { address: b.ip4, port: 7777, family: 4 });
    // REDIRECT in OUTPUT sends it to 127.0.0.1: the local address is not the original one.
    assert.deepEqual(r.local, { address: '127.0.0.1', port: 15001 });
  });

  test('IPv6: a connection to [fd00::x]:7777 reports it (IP6T_SO_ORIGINAL_DST)', async () => {
    const r = info(await agent.request({ op: 'connect', host: b.ip6, port: 7777 }));
    assert.deepEqual(r.orig, { address: b.ip6, port: 7777, family: 6 });
    assert.deepEqual(r.local, { address: '::1', port: 15002 });
  });

  test('dual-stack [::] listener: an IPv4 client is looked up with the IPv4 call', async () => {
    const r = info(await agent.request({ op: 'connect', host: b.ip4, port: 7778 }));
    assert.equal(r.local.address, '::ffff:127.0.0.1', 'the listener is dual-stack: Node reports a v4-mapped local address');
    assert.deepEqual(r.orig, { address: b.ip4, port: 7778, family: 4 });
  });

  test('dual-stack [::] listener: an IPv6 client', async () => {
    const r = info(await agent.request({ op: 'connect', host: b.ip6, port: 7778 }));
    assert.deepEqual(r.orig, { address: b.ip6, port: 7778, family: 6 });
  });

  test('a direct (not redirected) connection gives null, on every listener', async () => {
    for (const [host, port] of [['127.0.0.1', 15001], ['::1', 15002], ['127.0.0.1', 15003], ['::1', 15003]] as const) {
      const r = info(await agent.request({ op: 'connect', host, port }));
      assert.equal(r.orig, null, `${host}:${port}`);
      assert.equal(r.local.port, port);
    }
  });
});

describe('originalDst: nat PREROUTING REDIRECT across a pod pair', { skip }, () => {
  let a: Pod;
  let b: Pod;
  let client: Agent;
  let server: Agent;

  before(async () => {
    ({ a, b } = createPodPair());
    b.exec('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '7777', '-j', 'REDIRECT', '--to-ports', '15006']);
    b.exec('ip6tables', ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '7777', '-j', 'REDIRECT', '--to-ports', '15006']);
    [client, server] = await Promise.all([Agent.start(a), Agent.start(b)]);
    await server.ok({ op: 'listen', name: 'inbound', host: '::', port: 15006, how: 'plain', serve: 'info' });
  });
  after(() => {
    client?.stop();
    server?.stop();
  });

  test('IPv4: pod A → B:7777 arrives on B:15006 with original destination B:7777', async () => {
    const r = info(await client.request({ op: 'connect', host: b.ip4, port: 7777 }));
    assert.deepEqual(r.orig, { address: b.ip4, port: 7777, family: 4 });
    assert.deepEqual(r.local, { address: `::ffff:${b.ip4}`, port: 15006 });
    assert.equal(r.remote.address, `::ffff:${a.ip4}`);
  });

  test('IPv6: pod A → [B]:7777 arrives on B:15006 with original destination [B]:7777', async () => {
    const r = info(await client.request({ op: 'connect', host: b.ip6, port: 7777 }));
    assert.deepEqual(r.orig, { address: b.ip6, port: 7777, family: 6 });
    assert.deepEqual(r.local, { address: b.ip6, port: 15006 });
    assert.equal(r.remote.address, a.ip6);
  });

  test('A → B:15006 directly: null', async () => {
    for (const host of [b.ip4, b.ip6]) {
      const r = info(await client.request({ op: 'connect', host, port: 15006 }));
      assert.equal(r.orig, null, host);
    }
  });
});
