// Address resolution for STRICT_DNS and LOGICAL_DNS clusters.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClusterConfig } from '../../config/types';

export async function resolveAll(hostname: string, family: ClusterConfig['dnsLookupFamily']): Promise<string[]> {
  if (isIP(hostname)) return [hostname];
  const fam = family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : 0;
  const res = await lookup(hostname, { all: true, family: fam });
  let addrs = res.map((r) => r.address);
  if (family === 'AUTO') {
    // AUTO prefers IPv6 when there is any (Envoy's AUTO), else IPv4.
    const v6 = res.filter((r) => r.family === 6).map((r) => r.address);
    if (v6.length > 0) addrs = v6;
  } else if (family === 'V4_PREFERRED') {
    const v4 = res.filter((r) => r.family === 4).map((r) => r.address);
    if (v4.length > 0) addrs = v4;
  }
  return [...new Set(addrs)];
}
