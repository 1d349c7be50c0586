// The load-balancer interface: a picker is built from a cluster's host set whenever the
// hosts or their health change (design convention 3: rebuilt, never mutated per request),
// and `pick` is the only call on the request path.
import type { HeaderMap } from '../../http/headers';
import type { ConnectionInfo } from '../../listeners/connection_info';
import type { ClusterStats } from '../cluster_stats';
import type { Host } from '../host';
import type { LbConfig } from './config';

/**
 * What a hash-based policy needs from the request: its hash (from the route's or tcp_proxy's
 * hash_policy) as two unsigned 32-bit halves. The connection manager's stream and the TCP
 * session implement it themselves, so passing it allocates nothing.
 */
export interface LbContext {
  /** False when no hash policy produced a hash: hash policies then pick at random, as Envoy does. */
  hashSet: boolean;
  hashHi: number;
  hashLo: number;
  /** > 0 when re-picking because a retry host predicate rejected the host (hash policies choose an alternative). */
  hostSelectionAttempt?: number;
  /** The downstream connection (ORIGINAL_DST clusters connect to its restored original destination). */
  readonly connectionInfo?: ConnectionInfo | undefined;
  /** The request's headers, for HTTP (ORIGINAL_DST with use_http_header). */
  readonly requestHeaders?: HeaderMap;
}

export interface LoadBalancer {
  pick(ctx: LbContext | null): Host | null;
}

export interface LbBuildContext {
  config: LbConfig;
  /** The assignment's policy.overprovisioning_factor in percent (140 = 1.4). */
  overprovisioningFactor: number;
  /** The cluster's stats (lb_healthy_panic, upstream_rq_active for bounded loads); null in unit tests. */
  stats: ClusterStats | null;
}

export interface LoadBalancerFactory {
  /** `hosts` are all hosts of the cluster; the balancer decides which are usable (health, priority, panic). */
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer;
}
