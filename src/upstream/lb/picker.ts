// The load-balancer interface: a picker is built from a cluster's host set whenever the
// hosts or their health change (design convention 3: rebuilt, never mutated per request),
// and `pick` is the only call on the request path.
import type { Host } from '../host';

/** What a hash-based policy needs from the request; null for non-hash policies. */
export interface LbContext {
  /** The request's hash from the route's hash_policy, or undefined when none applies. */
  hash?: bigint;
}

export interface LoadBalancer {
  pick(ctx: LbContext | null): Host | null;
}

export interface LoadBalancerFactory {
  /** `hosts` are all hosts of the cluster; the factory decides which are usable (health, panic). */
  build(hosts: Host[], config: unknown): LoadBalancer;
}

/**
 * Hosts a picker may use: the healthy ones, or all of them in panic mode (Envoy's
 * healthy_panic_threshold, 50% by default: when fewer than that share of hosts are
 * healthy, balance across all hosts rather than overload the few healthy ones).
 * https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold
 */
export function usableHosts(hosts: Host[], panicThresholdPercent = 50): Host[] {
  if (hosts.length === 0) return hosts;
  const healthy = hosts.filter((h) => h.healthy);
  if (healthy.length * 100 < hosts.length * panicThresholdPercent) return hosts;
  return healthy;
}
