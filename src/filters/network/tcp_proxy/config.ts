// envoy.filters.network.tcp_proxy config decoder.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
import { ConfigIssues, join } from '../../../config/issues';
import type { Canon } from '../../../xds/proto/canonical';
import {
  onlyFields, readDurationMs, readList, readMessage, readNumber, readString,
} from '../../../xds/resources/fields';
import { decodeTcpHashPolicies, type HashPolicy } from '../../../routing/hash_policy';
import { registerExtension } from '../../registry';

export const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export interface TcpProxyConfig {
  statPrefix: string;
  /** Exactly one of cluster / weightedClusters is set (PGV-required oneof cluster_specifier). */
  cluster?: string;
  weightedClusters?: { name: string; weight: number }[];
  /** Envoy default 1h; 0 disables the idle timeout. */
  idleTimeoutMs: number;
  /** Upstream connect attempts before giving up (default 1). */
  maxConnectAttempts: number;
  /** hash_policy (at most one entry, source_ip or filter_state): the connection's hash for RING_HASH / MAGLEV. */
  hashPolicy: HashPolicy[];
}

export function decodeTcpProxy(c: Canon, path: string, issues: ConfigIssues): TcpProxyConfig {
  onlyFields(c, path, issues, ['stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout', 'max_connect_attempts', 'hash_policy']);
  const out: TcpProxyConfig = {
    statPrefix: readString(c, 'stat_prefix', ''),
    idleTimeoutMs: readDurationMs(c, 'idle_timeout', path, issues, 3600000),
    maxConnectAttempts: readNumber(c, 'max_connect_attempts', 1),
    hashPolicy: decodeTcpHashPolicies(readList(c, 'hash_policy'), join(path, 'hash_policy'), issues),
  };
  const cluster = readString(c, 'cluster');
  if (cluster !== undefined) out.cluster = cluster;
  const wc = readMessage(c, 'weighted_clusters');
  if (wc) {
    const wp = join(path, 'weighted_clusters');
    onlyFields(wc, wp, issues, ['clusters']);
    out.weightedClusters = readList(wc, 'clusters').map((cw: Canon, i: number) => {
      onlyFields(cw, join(join(wp, 'clusters'), i), issues, ['name', 'weight']);
      return { name: readString(cw, 'name', ''), weight: readNumber(cw, 'weight', 0) };
    });
  }
  return out;
}

registerExtension('network', {
  typeUrl: TCP_PROXY_TYPE_URL,
  wellKnownName: 'envoy.filters.network.tcp_proxy',
  decode: decodeTcpProxy,
});
