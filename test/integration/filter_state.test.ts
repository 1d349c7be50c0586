// envoy.filters.network.set_filter_state feeding `filter_state` hash policies, from the
// client's side: a tcp_proxy and an HTTP route on RING_HASH clusters hash on a filter-state
// object the listener set when the connection opened; without the object (another listener)
// there is no hash and picks spread; a key built from the client address sticks per address.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  Proxy, curl, runCli, startHttpBackend, startProxy, startTcpServer, tempFile, trackSocket, type HttpBackend,
} from './harness';

const SFS = 'type.googleapis.com/envoy.extensions.filters.network.set_filter_state.v3.Config';
const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

const setState = (value: string) => `
      - name: envoy.filters.network.set_filter_state
        typed_config:
          "@type": ${SFS}
          on_new_connection:
          - object_key: tenant
            format_string: { text_format_source: { inline_string: "${value}" } }`;

const tcpListener = (name: string, port: string, state: string) => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: \${${port}} } }
    filter_chains:
    - filters:${state}
      - name: envoy.filters.network.tcp_proxy
        typed_config: { "@type": ${TCP}, stat_prefix: ${name}, cluster: tcp_ring, hash_policy: [{ filter_state: { key: tenant } }] }`;

const httpListener = (name: string, port: string, state: string) => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: \${${port}} } }
    filter_chains:
    - filters:${state}
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM}
          stat_prefix: ${name}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: http_ring, hash_policy: [{ filter_state: { key: tenant } }] }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;

const endpoints = (ports: string[]) => ports.map((p) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: \${${p}} } } } }`).join(', ');

const BOOTSTRAP = `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
static_resources:
  listeners:${tcpListener('tcp_tenant_a', 'LISTENER_TA_PORT', setState('tenant-a'))}${tcpListener('tcp_tenant_b', 'LISTENER_TB_PORT', setState('tenant-b'))}${tcpListener('tcp_by_client', 'LISTENER_TC_PORT', setState('client-%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'))}${tcpListener('tcp_no_state', 'LISTENER_TN_PORT', '')}${httpListener('http_tenant', 'LISTENER_HA_PORT', setState('tenant-a'))}${httpListener('http_no_state', 'LISTENER_HN_PORT', '')}
  clusters:
  - name: tcp_ring
    lb_policy: RING_HASH
    load_assignment: { cluster_name: tcp_ring, endpoints: [{ lb_endpoints: [${endpoints(['T1_PORT', 'T2_PORT', 'T3_PORT', 'T4_PORT'])}] }] }
  - name: http_ring
    lb_policy: RING_HASH
    load_assignment: { cluster_name: http_ring, endpoints: [{ lb_endpoints: [${endpoints(['H1_PORT', 'H2_PORT', 'H3_PORT', 'H4_PORT'])}] }] }
`;

let proxy: Proxy;
const http: HttpBackend[] = [];

/** Which TCP backend a connection reaches (from `localAddress`, when given). */
function whoTcp(port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = trackSocket(net.connect({ port, host: '127.0.0.1', localAddress }));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got.trim()));
    s.on('error', reject);
  });
}

async function spread(n: number, f: () => Promise<string>): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = await f();
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

describe('set_filter_state and filter_state hash policies', () => {
  before(async () => {
    const vars: Record<string, number> = {};
    for (let i = 1; i <= 4; i++) {
      const name = `tcp-${i}`;
      vars[`T${i}_PORT`] = (await startTcpServer((s) => s.end(`${name}\n`))).port;
      const b = await startHttpBackend(`http-${i}`);
      http.push(b);
      vars[`H${i}_PORT`] = b.port;
    }
    proxy = await startProxy(BOOTSTRAP, { vars });
  });

  test('tcp_proxy: every connection with the same filter-state value reaches the same host', async () => {
    const a = await spread(20, () => whoTcp(proxy.port('LISTENER_TA_PORT')));
    const b = await spread(20, () => whoTcp(proxy.port('LISTENER_TB_PORT')));
    assert.equal(a.size, 1, `tenant-a went to ${[...a.keys()]}`);
    assert.equal(b.size, 1, `tenant-b went to ${[...b.keys()]}`);
    // Without the object there is no hash: Envoy picks at random, so 40 connections spread.
    const none = await spread(40, () => whoTcp(proxy.port('LISTENER_TN_PORT')));
    assert.ok(none.size >= 2, `no filter state should not stick: ${JSON.stringify([...none])}`);
  });

  test('a value formatted from the client address sticks per client and differs across clients', async () => {
    const port = proxy.port('LISTENER_TC_PORT');
    const hosts = new Set<string>();
    for (let i = 2; i <= 13; i++) {
      const from = `127.0.0.${i}`;
      const seen = await spread(5, () => whoTcp(port, from));
      assert.equal(seen.size, 1, `${from} went to ${[...seen.keys()]}`);
      hosts.add([...seen.keys()][0]);
    }
    assert.ok(hosts.size >= 2, 'twelve client addresses should not all hash to one of four hosts');
  });

  test('HTTP routes hash on the connection filter state of their stream', async () => {
    const seen = await spread(20, async () => (await curl([`http://127.0.0.1:${proxy.port('LISTENER_HA_PORT')}/x`])).headers['x-backend']);
    assert.equal(seen.size, 1, `tenant-a requests went to ${[...seen.keys()]}`);
    const none = await spread(40, async () => (await curl([`http://127.0.0.1:${proxy.port('LISTENER_HN_PORT')}/x`])).headers['x-backend']);
    assert.ok(none.size >= 2);
  });

  test('config errors: commands a new connection cannot answer, and filters out of order', async () => {
    const bad = BOOTSTRAP.replace('"tenant-b"', '"%REQ(x-tenant)%"').replace(
      /(- name: tcp_no_state\n[\s\S]*?- filters:)\n/, `$1\n      - name: envoy.filters.network.tcp_proxy\n        typed_config: { "@type": ${TCP}, stat_prefix: x, cluster: tcp_ring }\n`);
    const file = tempFile('filter-state-bad.yaml', bad.replace(/\$\{[A-Z0-9_]+\}/g, '1'));
    const r = await runCli(['validate', '-c', file]);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stdout + r.stderr, /filters\[0\]\.typed_config\.on_new_connection\[0\]\.format_string: %REQ% is not available when a connection opens/);
    assert.match(r.stdout + r.stderr, /filter_chains\[0\]\.filters\[0\]: envoy\.filters\.network\.tcp_proxy is a terminal filter and must be the last one of the chain/);
  });
});
