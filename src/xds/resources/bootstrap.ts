// envoy.config.bootstrap.v3.Bootstrap (canonical form) → BootstrapConfig.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/bootstrap/v3/bootstrap.proto
import { ConfigIssues, join } from '../../config/issues';
import type { AdminConfig, BootstrapConfig, ClusterConfig, FilterChainConfig, ListenerConfig, NodeInfo } from '../../config/types';
import { log } from '../../log';
import { HCM_TYPE_URL, type HcmConfig } from '../../filters/network/http_connection_manager/config';
import { type Canon, typeName } from '../proto/canonical';
import { decodeAddress, requireIp } from './address';
import { decodeCluster } from './cluster';
import { decodeDynamicResources } from './dynamic_resources';
import { onlyFields, readList, readMessage, readString, requireField } from './fields';
import { decodeListener } from './listener';

// Filter extensions register on import (design convention 5).
import '../../filters/network';
import '../../filters/listener';

const BOOTSTRAP_FIELDS = ['node', 'admin', 'static_resources', 'dynamic_resources', 'layered_runtime'];

export function decodeBootstrapCanon(canon: Canon, source: string, issues: ConfigIssues): BootstrapConfig {
  onlyFields(canon, '', issues, BOOTSTRAP_FIELDS);
  if (canon.layered_runtime) log.info('bootstrap: layered_runtime is ignored (switchyard has no runtime layer)', { source });

  const sr = readMessage(canon, 'static_resources');
  onlyFields(sr, 'static_resources', issues, ['listeners', 'clusters']);
  const listeners: ListenerConfig[] = readList(sr, 'listeners').map((l, i) =>
    decodeListener(l, join('static_resources.listeners', i), issues));
  const clusters: ClusterConfig[] = readList(sr, 'clusters').map((c, i) =>
    decodeCluster(c, join('static_resources.clusters', i), issues));
  unique(listeners.map((l) => l.name), 'static_resources.listeners', 'listener', issues);
  unique(clusters.map((c) => c.name), 'static_resources.clusters', 'cluster', issues);

  const dynamic = decodeDynamicResources(readMessage(canon, 'dynamic_resources'), 'dynamic_resources', clusters, issues);
  if (!readMessage(readMessage(canon, 'dynamic_resources'), 'ads_config')) requireNoAdsSources(listeners, clusters, issues);

  return {
    node: decodeNode(readMessage(canon, 'node'), 'node', issues),
    admin: decodeAdmin(readMessage(canon, 'admin'), 'admin', issues, source),
    ...(dynamic ? { dynamic } : {}),
    listeners,
    clusters,
    raw: canon,
    source,
  };
}

function decodeNode(n: Canon | undefined, path: string, issues: ConfigIssues): NodeInfo {
  // user_agent_* and dynamic_parameters are only sent to the management server.
  onlyFields(n, path, issues, ['id', 'cluster', 'metadata', 'locality', 'user_agent_name', 'user_agent_version', 'dynamic_parameters']);
  const loc = readMessage(n, 'locality');
  return {
    id: readString(n, 'id', ''),
    cluster: readString(n, 'cluster', ''),
    ...(n?.metadata ? { metadata: n.metadata } : {}),
    ...(loc ? { locality: loc } : {}),
  };
}

function decodeAdmin(a: Canon | undefined, path: string, issues: ConfigIssues, source: string): AdminConfig | undefined {
  if (!a) return undefined;
  onlyFields(a, path, issues, ['address', 'access_log', 'access_log_path', 'profile_path']);
  if (a.access_log || a.access_log_path || a.profile_path) {
    log.info('bootstrap: admin access_log / profile_path are ignored', { source });
  }
  if (!requireField(a, 'address', path, issues)) return undefined;
  const address = decodeAddress(readMessage(a, 'address'), join(path, 'address'), issues);
  requireIp(address, join(path, 'address'), issues);
  return { address };
}

/**
 * A static EDS cluster or RDS route table fetched with `ads: {}` needs the ADS stream of
 * dynamic_resources.ads_config (Envoy: "ADS must be configured to support an ADS config source").
 */
function requireNoAdsSources(listeners: ListenerConfig[], clusters: ClusterConfig[], issues: ConfigIssues): void {
  const why = 'needs dynamic_resources.ads_config (ADS must be configured to support an ADS config source)';
  clusters.forEach((c, i) => {
    if (c.type === 'EDS' && c.raw.eds_cluster_config?.eds_config?.ads) {
      issues.add(join('static_resources.clusters', i) + '.eds_cluster_config.eds_config.ads', why);
    }
  });
  listeners.forEach((l, i) => {
    const chains: [FilterChainConfig, string][] = l.filterChains.map((fc, j) => [fc, `filter_chains[${j}]`]);
    if (l.defaultFilterChain) chains.push([l.defaultFilterChain, 'default_filter_chain']);
    for (const [fc, fcPath] of chains) {
      fc.filters.forEach((f, k) => {
        const rds = (f.config as HcmConfig | undefined)?.rds;
        if (f.typeUrl.endsWith('/' + typeName(HCM_TYPE_URL)) && rds && !rds.path) {
          issues.add(`${join('static_resources.listeners', i)}.${fcPath}.filters[${k}].typed_config.rds.config_source.ads`, why);
        }
      });
    }
  });
}

/** Envoy rejects two static listeners or clusters with the same name. */
function unique(names: string[], path: string, what: string, issues: ConfigIssues): void {
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    if (!n) return;
    const prev = seen.get(n);
    if (prev !== undefined) issues.add(join(join(path, i), 'name'), `duplicate ${what} name "${n}" (also ${path}[${prev}])`);
    else seen.set(n, i);
  });
}
