// A cluster's load-balancing configuration → LbConfig: `lb_policy` with its
// ring_hash_lb_config / maglev_lb_config / least_request_lb_config / round_robin_lb_config,
// or the typed `load_balancing_policy` (envoy.extensions.load_balancing_policies.*), plus
// common_lb_config. Both forms land in one LbConfig, so the runtime never knows which was used.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto#envoy-v3-api-field-config-cluster-v3-cluster-load-balancing-policy
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto
import { ConfigIssues, join } from '../../config/issues';
import { DEFAULT_LB_CONFIG, type LbConfig, type LbPolicyName } from '../../upstream/lb/config';
import { Canon, typeName } from '../proto/canonical';
import { NOT_SUPPORTED, onlyFields, readBool, readList, readMessage, readNumber, readString, rejectField } from './fields';

const POLICY_TYPES: Record<string, LbPolicyName> = {
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': 'ROUND_ROBIN',
  'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest': 'LEAST_REQUEST',
  'envoy.extensions.load_balancing_policies.random.v3.Random': 'RANDOM',
  'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash': 'RING_HASH',
  'envoy.extensions.load_balancing_policies.maglev.v3.Maglev': 'MAGLEV',
};

/** The lb_config oneof member that goes with each lb_policy. */
const LEGACY_CONFIG: Record<string, string> = {
  RING_HASH: 'ring_hash_lb_config',
  MAGLEV: 'maglev_lb_config',
  LEAST_REQUEST: 'least_request_lb_config',
  ROUND_ROBIN: 'round_robin_lb_config',
};

export const LB_CLUSTER_FIELDS = [
  'lb_policy', 'ring_hash_lb_config', 'maglev_lb_config', 'least_request_lb_config', 'round_robin_lb_config',
  'common_lb_config', 'load_balancing_policy',
];

/**
 * `lbPolicy` is the cluster's lb_policy as read by the cluster decoder (already checked to be
 * an Envoy value); CLUSTER_PROVIDED is the cluster decoder's business and maps to ROUND_ROBIN here.
 */
export function decodeLbConfig(canon: Canon, lbPolicy: string, path: string, issues: ConfigIssues): LbConfig {
  const out: LbConfig = { ...DEFAULT_LB_CONFIG };
  const typed = readMessage(canon, 'load_balancing_policy');
  if (typed) {
    if (canon.lb_policy !== undefined && lbPolicy !== 'LOAD_BALANCING_POLICY_CONFIG') {
      issues.add(join(path, 'lb_policy'), 'cannot be set together with load_balancing_policy (Envoy ignores it then; remove one)');
    }
    for (const f of Object.values(LEGACY_CONFIG)) rejectField(canon, f, path, issues, 'use the load_balancing_policy extension\'s own fields');
    decodeTyped(typed, join(path, 'load_balancing_policy'), issues, out);
  } else {
    if (lbPolicy === 'LOAD_BALANCING_POLICY_CONFIG') issues.add(join(path, 'load_balancing_policy'), 'is required when lb_policy is LOAD_BALANCING_POLICY_CONFIG');
    out.policy = (lbPolicy in POLICY_BY_ENUM ? lbPolicy : 'ROUND_ROBIN') as LbPolicyName;
    for (const [policy, field] of Object.entries(LEGACY_CONFIG)) {
      const m = readMessage(canon, field);
      if (!m) continue;
      const fp = join(path, field);
      if (policy !== out.policy) {
        issues.add(fp, `only valid with lb_policy ${policy} (lb_policy is ${lbPolicy})`);
        continue;
      }
      if (policy === 'RING_HASH') decodeRingHash(m, fp, issues, out, false);
      else if (policy === 'MAGLEV') decodeMaglev(m, fp, issues, out, false);
      else if (policy === 'LEAST_REQUEST') decodeLeastRequest(m, fp, issues, out, false);
      else decodeRoundRobin(m, fp, issues, out, false);
    }
  }
  const common = readMessage(canon, 'common_lb_config');
  if (common) decodeCommon(common, join(path, 'common_lb_config'), issues, out, typed !== undefined);
  return out;
}

const POLICY_BY_ENUM: Record<string, true> = { ROUND_ROBIN: true, LEAST_REQUEST: true, RANDOM: true, RING_HASH: true, MAGLEV: true };

/** load_balancing_policy.policies: Envoy uses the first policy it supports. */
function decodeTyped(lbp: Canon, path: string, issues: ConfigIssues, out: LbConfig): void {
  onlyFields(lbp, path, issues, ['policies']);
  const policies = readList(lbp, 'policies');
  if (policies.length === 0) {
    issues.add(join(path, 'policies'), 'must have at least one policy');
    return;
  }
  const seen: string[] = [];
  for (let i = 0; i < policies.length; i++) {
    const pp = join(join(path, 'policies'), i);
    onlyFields(policies[i], pp, issues, ['typed_extension_config']);
    const tec = readMessage(policies[i], 'typed_extension_config');
    const tp = join(pp, 'typed_extension_config');
    if (!tec) {
      issues.add(tp, 'is required');
      return;
    }
    onlyFields(tec, tp, issues, ['name', 'typed_config']);
    const tc = readMessage(tec, 'typed_config');
    const t = tc ? typeName(String(tc['@type'] ?? '')) : '';
    seen.push(t || '(none)');
    const policy = POLICY_TYPES[t];
    if (policy === undefined || !tc) continue;
    out.policy = policy;
    const cp = join(tp, 'typed_config');
    if (policy === 'RING_HASH') decodeRingHash(tc, cp, issues, out, true);
    else if (policy === 'MAGLEV') decodeMaglev(tc, cp, issues, out, true);
    else if (policy === 'LEAST_REQUEST') decodeLeastRequest(tc, cp, issues, out, true);
    else if (policy === 'ROUND_ROBIN') decodeRoundRobin(tc, cp, issues, out, true);
    else {
      onlyFields(tc, cp, issues, ['locality_lb_config']);
      decodeLocalityLbConfig(readMessage(tc, 'locality_lb_config'), join(cp, 'locality_lb_config'), issues, out);
    }
    return;
  }
  issues.add(join(path, 'policies'), `none of the policies is supported by switchyard (got ${seen.join(', ')}; implemented: ${Object.keys(POLICY_TYPES).join(', ')})`);
}

function decodeRingHash(m: Canon, path: string, issues: ConfigIssues, out: LbConfig, typed: boolean): void {
  onlyFields(m, path, issues, typed
    ? ['hash_function', 'minimum_ring_size', 'maximum_ring_size', 'use_hostname_for_hashing', 'hash_balance_factor', 'consistent_hashing_lb_config', 'locality_weighted_lb_config']
    : ['hash_function', 'minimum_ring_size', 'maximum_ring_size']);
  const hf = readString(m, 'hash_function', 'XX_HASH');
  // MURMUR_HASH_2 (std::hash's murmur) is not implemented: rejected rather than placing hosts differently.
  if (hf !== 'XX_HASH' && hf !== 'DEFAULT_HASH') issues.add(join(path, 'hash_function'), `${hf} is ${NOT_SUPPORTED} (implemented: XX_HASH)`);
  out.minRingSize = readNumber(m, 'minimum_ring_size', 1024);
  out.maxRingSize = readNumber(m, 'maximum_ring_size', 8 * 1024 * 1024);
  if (out.minRingSize > 8388608) issues.add(join(path, 'minimum_ring_size'), 'must be at most 8388608');
  if (out.maxRingSize > 8388608) issues.add(join(path, 'maximum_ring_size'), 'must be at most 8388608');
  if (out.minRingSize > out.maxRingSize) {
    issues.add(path, `ring hash: minimum_ring_size (${out.minRingSize}) > maximum_ring_size (${out.maxRingSize})`);
  }
  if (typed) {
    // The deprecated top-level fields, then consistent_hashing_lb_config (which wins, as in Envoy).
    out.useHostnameForHashing = readBool(m, 'use_hostname_for_hashing', false);
    out.hashBalanceFactor = balanceFactor(m, path, issues, 0);
    decodeConsistentHashing(readMessage(m, 'consistent_hashing_lb_config'), join(path, 'consistent_hashing_lb_config'), issues, out);
    if (m.locality_weighted_lb_config !== undefined) out.localityWeighted = true;
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function decodeMaglev(m: Canon, path: string, issues: ConfigIssues, out: LbConfig, typed: boolean): void {
  onlyFields(m, path, issues, typed ? ['table_size', 'consistent_hashing_lb_config', 'locality_weighted_lb_config'] : ['table_size']);
  out.tableSize = readNumber(m, 'table_size', 65537);
  if (out.tableSize > 5000011) issues.add(join(path, 'table_size'), 'must be at most 5000011');
  else if (!isPrime(out.tableSize)) issues.add(join(path, 'table_size'), 'The table size of maglev must be prime number');
  if (typed) {
    decodeConsistentHashing(readMessage(m, 'consistent_hashing_lb_config'), join(path, 'consistent_hashing_lb_config'), issues, out);
    if (m.locality_weighted_lb_config !== undefined) out.localityWeighted = true;
  }
}

function decodeLeastRequest(m: Canon, path: string, issues: ConfigIssues, out: LbConfig, typed: boolean): void {
  onlyFields(m, path, issues, typed
    ? ['choice_count', 'active_request_bias', 'locality_lb_config', 'selection_method', 'enable_full_scan']
    : ['choice_count', 'active_request_bias']);
  out.choiceCount = readNumber(m, 'choice_count', 2);
  if (out.choiceCount < 2) issues.add(join(path, 'choice_count'), 'must be at least 2');
  const bias = readMessage(m, 'active_request_bias');
  if (bias) {
    const bp = join(path, 'active_request_bias');
    // runtime_key names a runtime override; Switchyard has no runtime layer, so only the default applies.
    onlyFields(bias, bp, issues, ['default_value', 'runtime_key']);
    out.activeRequestBias = readNumber(bias, 'default_value', 1);
    if (!(out.activeRequestBias >= 0)) issues.add(join(bp, 'default_value'), 'must not be negative');
  }
  if (typed) {
    out.fullScan = readString(m, 'selection_method', 'N_CHOICES') === 'FULL_SCAN' || readBool(m, 'enable_full_scan', false);
    decodeLocalityLbConfig(readMessage(m, 'locality_lb_config'), join(path, 'locality_lb_config'), issues, out);
  }
}

function decodeRoundRobin(m: Canon, path: string, issues: ConfigIssues, out: LbConfig, typed: boolean): void {
  // slow_start_config is not implemented: rejected by name through onlyFields.
  onlyFields(m, path, issues, typed ? ['locality_lb_config'] : []);
  if (typed) decodeLocalityLbConfig(readMessage(m, 'locality_lb_config'), join(path, 'locality_lb_config'), issues, out);
}

function decodeLocalityLbConfig(m: Canon | undefined, path: string, issues: ConfigIssues, out: LbConfig): void {
  if (!m) return;
  // zone_aware_lb_config needs the local cluster (cluster_manager.local_cluster_name): not implemented.
  onlyFields(m, path, issues, ['locality_weighted_lb_config']);
  if (m.locality_weighted_lb_config !== undefined) out.localityWeighted = true;
}

/** hash_balance_factor (its >= 100 rule is the proto's, checked by the proto decoder). */
function balanceFactor(m: Canon, _path: string, _issues: ConfigIssues, dflt: number): number {
  return readNumber(m, 'hash_balance_factor', dflt);
}

function decodeConsistentHashing(m: Canon | undefined, path: string, issues: ConfigIssues, out: LbConfig): void {
  if (!m) return;
  // hash_policy here (an LB-level hash policy) is not implemented: the route's hash_policy applies.
  onlyFields(m, path, issues, ['use_hostname_for_hashing', 'hash_balance_factor']);
  // When present it replaces the deprecated fields of RingHash whole (Envoy).
  out.useHostnameForHashing = readBool(m, 'use_hostname_for_hashing', false);
  out.hashBalanceFactor = balanceFactor(m, path, issues, 0);
}

function decodeCommon(m: Canon, path: string, issues: ConfigIssues, out: LbConfig, typed: boolean): void {
  // update_merge_window, ignore_new_hosts_until_first_hc, close_connections_on_host_set_change,
  // override_host_status and zone_aware_lb_config are not implemented: rejected by name.
  onlyFields(m, path, issues, ['healthy_panic_threshold', 'locality_weighted_lb_config', 'consistent_hashing_lb_config']);
  const pt = readMessage(m, 'healthy_panic_threshold');
  if (pt) {
    const v = readNumber(pt, 'value', 0);
    if (!(v >= 0 && v <= 100)) issues.add(join(join(path, 'healthy_panic_threshold'), 'value'), 'must be in [0, 100]');
    out.healthyPanicThreshold = Math.min(100, Math.max(0, Math.round(v))); // Envoy rounds the Percent
  }
  if (m.locality_weighted_lb_config !== undefined) out.localityWeighted = true;
  const ch = readMessage(m, 'consistent_hashing_lb_config');
  if (ch && !typed) decodeConsistentHashing(ch, join(path, 'consistent_hashing_lb_config'), issues, out);
  else if (ch) issues.add(join(path, 'consistent_hashing_lb_config'), 'set it in the load_balancing_policy extension (Envoy ignores this one there)');
}
