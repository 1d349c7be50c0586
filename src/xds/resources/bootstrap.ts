// envoy.config.bootstrap.v3.Bootstrap (canonical form) → BootstrapConfig.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/bootstrap/v3/bootstrap.proto
import { ConfigIssues, join } from '../../config/issues';
import type { AdminConfig, BootstrapConfig, ClusterConfig, ListenerConfig, NodeInfo } from '../../config/types';
import { log } from '../../log';
import type { Canon } from '../proto/canonical';
import { decodeAddress, requireIp } from './address';
import { decodeCluster } from './cluster';
import { onlyFields, readList, readMessage, readString, requireField } from './fields';
import { decodeListener } from './listener';

// Filter extensions register on import (design convention 5).
import '../../filters/network';
import '../../filters/listener';

const BOOTSTRAP_FIELDS = ['node', 'admin', 'static_resources', 'dynamic_resources', 'layered_runtime'];

export function decodeBootstrapCanon(canon: Canon, source: string, issues: ConfigIssues): BootstrapConfig {
  onlyFields(canon, '', issues, BOOTSTRAP_FIELDS);
  if (canon.layered_runtime) log.info('bootstrap: layered_runtime is ignored (switchyard has no runtime layer)', { source });
  if (canon.dynamic_resources) log.info('bootstrap: dynamic_resources is read by the xDS client', { source });

  const sr = readMessage(canon, 'static_resources');
  onlyFields(sr, 'static_resources', issues, ['listeners', 'clusters']);
  const listeners: ListenerConfig[] = readList(sr, 'listeners').map((l, i) =>
    decodeListener(l, join('static_resources.listeners', i), issues));
  const clusters: ClusterConfig[] = readList(sr, 'clusters').map((c, i) =>
    decodeCluster(c, join('static_resources.clusters', i), issues));
  unique(listeners.map((l) => l.name), 'static_resources.listeners', 'listener', issues);
  unique(clusters.map((c) => c.name), 'static_resources.clusters', 'cluster', issues);

  return {
    node: decodeNode(readMessage(canon, 'node'), 'node', issues),
    admin: decodeAdmin(readMessage(canon, 'admin'), 'admin', issues, source),
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
