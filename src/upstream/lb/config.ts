// A cluster's load-balancing settings after decoding (src/xds/resources/lb_policy.ts): the
// policy and its options, and common_lb_config. The same shape whether the cluster used
// `lb_policy` + `*_lb_config` or the typed `load_balancing_policy` extensions.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto

export type LbPolicyName = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

export interface LbConfig {
  policy: LbPolicyName;
  /** common_lb_config.healthy_panic_threshold in percent (default 50; 0 disables panic). */
  healthyPanicThreshold: number;
  /** locality_weighted_lb_config is set: pick a locality by its weight first. */
  localityWeighted: boolean;
  /** LEAST_REQUEST: choice_count (default 2). */
  choiceCount: number;
  /** LEAST_REQUEST: active_request_bias.default_value (default 1.0). */
  activeRequestBias: number;
  /** LEAST_REQUEST: selection_method FULL_SCAN (every host is compared). */
  fullScan: boolean;
  /** RING_HASH: minimum_ring_size (default 1024) and maximum_ring_size (default 8M). */
  minRingSize: number;
  maxRingSize: number;
  /** MAGLEV: table_size (default 65537, prime). */
  tableSize: number;
  /** consistent_hashing_lb_config.use_hostname_for_hashing. */
  useHostnameForHashing: boolean;
  /** consistent_hashing_lb_config.hash_balance_factor (bounded loads); 0 = off. */
  hashBalanceFactor: number;
}

export const DEFAULT_LB_CONFIG: LbConfig = {
  policy: 'ROUND_ROBIN',
  healthyPanicThreshold: 50,
  localityWeighted: false,
  choiceCount: 2,
  activeRequestBias: 1,
  fullScan: false,
  minRingSize: 1024,
  maxRingSize: 8 * 1024 * 1024,
  tableSize: 65537,
  useHostnameForHashing: false,
  hashBalanceFactor: 0,
};

/** Whether the policy places requests by the request's hash (the route's hash_policy applies). */
export function isHashPolicy(p: LbPolicyName): boolean {
  return p === 'RING_HASH' || p === 'MAGLEV';
}
