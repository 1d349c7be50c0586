// Filter-chain selection in Envoy's documented order: destination port, destination IP,
// server name, transport protocol, application protocols, source IP, source port; at each
// step the most specific matching chain wins over one that leaves the criterion unset, and a
// connection that no remaining chain matches gets the default chain (undefined here).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { FilterChainMatch } from '../../../src/config/types';
import { CompiledMatch, selectChain } from '../../../src/listeners/filter_chain_match';
import type { ConnectionInfo } from '../../../src/listeners/connection_info';

const M = (m: Partial<FilterChainMatch>): FilterChainMatch => ({
  prefixRanges: [], sourcePrefixRanges: [], sourcePorts: [], serverNames: [], applicationProtocols: [], ...m,
});
const conn = (c: Partial<ConnectionInfo>): ConnectionInfo => ({
  localAddress: '10.0.0.2', localPort: 8080, remoteAddress: '10.0.0.1', remotePort: 40000, localRestored: false,
  serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [], ...c,
});
const pick = (chains: [string, Partial<FilterChainMatch>][], c: Partial<ConnectionInfo>) =>
  selectChain(chains.map(([n, m]) => new CompiledMatch(M(m), n)), conn(c));

test('destination port first: a chain for the port beats a catch-all, even one more specific later', () => {
  const chains: [string, Partial<FilterChainMatch>][] = [
    ['port', { destinationPort: 8080 }],
    ['sni', { serverNames: ['a.test'] }],
  ];
  assert.equal(pick(chains, { serverName: 'a.test' }), 'port');
  assert.equal(pick(chains, { localPort: 9090, serverName: 'a.test' }), 'sni');
  assert.equal(pick(chains, { localPort: 9090 }), undefined);
});

test('destination IP: the longest prefix wins; IPv4 clients on dual-stack sockets match IPv4 ranges', () => {
  const chains: [string, Partial<FilterChainMatch>][] = [
    ['any4', { prefixRanges: [{ address: '0.0.0.0', prefixLen: 0 }] }],
    ['net', { prefixRanges: [{ address: '10.0.0.0', prefixLen: 8 }] }],
    ['host', { prefixRanges: [{ address: '10.0.0.2', prefixLen: 32 }] }],
    ['any6', { prefixRanges: [{ address: '::', prefixLen: 0 }] }],
  ];
  assert.equal(pick(chains, {}), 'host');
  assert.equal(pick(chains, { localAddress: '::ffff:10.9.9.9' }), 'net');
  assert.equal(pick(chains, { localAddress: '192.168.1.1' }), 'any4');
  assert.equal(pick(chains, { localAddress: 'fd00::1' }), 'any6');
});

test('server names: exact beats the longest wildcard beats a shorter one beats unset; no SNI skips them', () => {
  const chains: [string, Partial<FilterChainMatch>][] = [
    ['exact', { serverNames: ['api.example.test'] }],
    ['wild', { serverNames: ['*.example.test'] }],
    ['wilder', { serverNames: ['*.test'] }],
    ['none', {}],
  ];
  assert.equal(pick(chains, { serverName: 'api.example.test' }), 'exact');
  assert.equal(pick(chains, { serverName: 'www.example.test' }), 'wild');
  assert.equal(pick(chains, { serverName: 'other.test' }), 'wilder');
  assert.equal(pick(chains, { serverName: 'other.org' }), 'none');
  assert.equal(pick(chains, {}), 'none');
});

test('transport protocol, then ALPN, then source IP, then source port', () => {
  const chains: [string, Partial<FilterChainMatch>][] = [
    ['tls-h2', { transportProtocol: 'tls', applicationProtocols: ['h2'] }],
    ['tls', { transportProtocol: 'tls' }],
    ['raw-from-peer', { transportProtocol: 'raw_buffer', sourcePrefixRanges: [{ address: '10.0.0.1', prefixLen: 32 }] }],
    ['raw-from-port', { transportProtocol: 'raw_buffer', sourcePorts: [40001] }],
    ['raw', { transportProtocol: 'raw_buffer' }],
  ];
  assert.equal(pick(chains, { transportProtocol: 'tls', applicationProtocols: ['h2', 'http/1.1'] }), 'tls-h2');
  assert.equal(pick(chains, { transportProtocol: 'tls', applicationProtocols: ['http/1.1'] }), 'tls');
  assert.equal(pick(chains, {}), 'raw-from-peer');
  assert.equal(pick(chains, { remoteAddress: '10.0.0.7', remotePort: 40001 }), 'raw-from-port');
  assert.equal(pick(chains, { remoteAddress: '10.0.0.7' }), 'raw');
});

test('once a stage narrowed the candidates, a later mismatch means no chain (the default chain applies)', () => {
  // Envoy: the port-specific chain is chosen at the first stage; its ALPN then does not
  // match, and the less specific catch-all is not reconsidered.
  const chains: [string, Partial<FilterChainMatch>][] = [
    ['port-http', { destinationPort: 8080, applicationProtocols: ['http/1.1'] }],
    ['catch-all', {}],
  ];
  assert.equal(pick(chains, { applicationProtocols: ['http/1.1'] }), 'port-http');
  assert.equal(pick(chains, {}), undefined);
});
