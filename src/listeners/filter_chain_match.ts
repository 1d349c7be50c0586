// Filter-chain selection with Envoy's documented precedence: the candidates are narrowed
// criterion by criterion — destination port, destination IP, server name, transport
// protocol, application protocols, source IP, source port — and at each step the most
// specific match wins over a chain that leaves the criterion unset.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto#config-listener-v3-filterchainmatch
import { BlockList, isIPv4 } from 'node:net';
import type { CidrRange, FilterChainMatch } from '../config/types';
import { unmapV4, type ConnectionInfo } from './connection_info';

export type { ConnectionInfo };


/** A compiled list of CIDR ranges: returns the longest matching prefix length + 1, 0 if unset, -1 if no match. */
class CidrSet {
  private readonly lists: { len: number; bl: BlockList }[];
  constructor(ranges: CidrRange[]) {
    this.lists = ranges.map((r) => {
      const bl = new BlockList();
      bl.addSubnet(r.address, r.prefixLen, isIPv4(r.address) ? 'ipv4' : 'ipv6');
      return { len: r.prefixLen, bl };
    });
  }
  score(ip: string): number {
    if (this.lists.length === 0) return 0;
    const a = unmapV4(ip);
    const fam = isIPv4(a) ? 'ipv4' : 'ipv6';
    let best = -1;
    for (const l of this.lists) if (l.len + 1 > best && l.bl.check(a, fam)) best = l.len + 1;
    return best;
  }
}

export class CompiledMatch<T> {
  private readonly dst: CidrSet;
  private readonly src: CidrSet;
  constructor(
    readonly m: FilterChainMatch,
    readonly value: T,
  ) {
    this.dst = new CidrSet(m.prefixRanges);
    this.src = new CidrSet(m.sourcePrefixRanges);
  }

  /** Scores for each criterion in precedence order: -1 no match, 0 unset, higher = more specific. */
  score(stage: number, c: ConnectionInfo): number {
    const m = this.m;
    switch (stage) {
      case 0:
        return m.destinationPort === undefined ? 0 : m.destinationPort === c.localPort ? 1 : -1;
      case 1:
        return this.dst.score(c.localAddress);
      case 2:
        return serverNameScore(m.serverNames, c.serverName);
      case 3:
        return m.transportProtocol === undefined || m.transportProtocol === '' ? 0 : m.transportProtocol === c.transportProtocol ? 1 : -1;
      case 4:
        if (m.applicationProtocols.length === 0) return 0;
        for (const p of c.applicationProtocols) if (m.applicationProtocols.includes(p)) return 1;
        return -1;
      case 5:
        return this.src.score(c.remoteAddress);
      case 6:
        return m.sourcePorts.length === 0 ? 0 : m.sourcePorts.includes(c.remotePort) ? 1 : -1;
    }
    return 0;
  }
}

/** Exact names beat wildcards (`*.example.com`), longer wildcards beat shorter ones. */
function serverNameScore(names: string[], sni: string): number {
  if (names.length === 0) return 0;
  if (sni === '') return -1;
  const s = sni.toLowerCase();
  let best = -1;
  for (const n of names) {
    if (n === s) return 1_000_000;
    if (n.startsWith('*.') && s.endsWith(n.slice(1)) && n.length > best) best = n.length;
  }
  return best;
}

const STAGES = 7;

/** Picks the chain for a connection, or undefined (then the default_filter_chain applies). */
export function selectChain<T>(chains: CompiledMatch<T>[], c: ConnectionInfo): T | undefined {
  let cands = chains;
  for (let stage = 0; stage < STAGES && cands.length > 0; stage++) {
    let best = -1;
    for (const ch of cands) {
      const s = ch.score(stage, c);
      if (s > best) best = s;
    }
    if (best < 0) return undefined;
    if (cands.length === 1) continue;
    cands = cands.filter((ch) => ch.score(stage, c) === best);
  }
  return cands.length > 0 ? cands[0].value : undefined;
}
