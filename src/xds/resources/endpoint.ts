// envoy.config.endpoint.v3.ClusterLoadAssignment (canonical form) → localities, the one
// decoder for both a cluster's inline load_assignment and an EDS resource.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/endpoint/v3/endpoint.proto
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/endpoint/v3/endpoint_components.proto
import { ConfigIssues, join } from '../../config/issues';
import type { EndpointConfig, HealthStatus, LocalityEndpoints } from '../../config/types';
import type { EndpointHealthCheckConfig } from '../../upstream/health/config';
import type { Canon } from '../proto/canonical';
import { decodeAddress, requireIp } from './address';
import { NOT_SUPPORTED, onlyFields, readList, readMessage, readNumber, readString, requireField } from './fields';

export interface ClusterLoadAssignmentConfig {
  /** The cluster (or EDS service_name) the assignment is for. */
  clusterName: string;
  localities: LocalityEndpoints[];
  /** policy.overprovisioning_factor: percent (default 140, Envoy's 1.4). */
  overprovisioningFactor: number;
}

export interface LoadAssignmentOptions {
  /**
   * Endpoint addresses must be IP literals: true for EDS and STATIC clusters, false for
   * STRICT_DNS / LOGICAL_DNS, whose addresses are names to resolve.
   */
  requireIp: boolean;
}

/**
 * Decodes a ClusterLoadAssignment. Of the `policy`, overprovisioning_factor is implemented
 * (priority and locality availability, src/upstream/lb/priority.ts); drop_overloads,
 * endpoint_stale_after and weighted_priority_health are not yet, so each is rejected by name
 * rather than ignored. named_endpoints comes with endpoint_name, also not supported.
 */
export function decodeClusterLoadAssignment(
  canon: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions = { requireIp: true },
): ClusterLoadAssignmentConfig {
  onlyFields(canon, path, issues, ['cluster_name', 'endpoints', 'policy']);
  const policy = readMessage(canon, 'policy');
  let overprovisioningFactor = 140;
  if (policy) {
    const pp = join(path, 'policy');
    for (const k of Object.keys(policy)) if (policy[k] !== undefined && k !== 'overprovisioning_factor') issues.add(join(pp, k), `${NOT_SUPPORTED} yet`);
    overprovisioningFactor = readNumber(policy, 'overprovisioning_factor', 140);
    if (overprovisioningFactor < 1) issues.add(join(pp, 'overprovisioning_factor'), 'must be greater than 0');
  }
  const localities = readList(canon, 'endpoints').map((le: Canon, i: number) =>
    decodeLocality(le, join(join(path, 'endpoints'), i), issues, opts));
  return { clusterName: readString(canon, 'cluster_name', ''), localities, overprovisioningFactor };
}

function decodeLocality(le: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions): LocalityEndpoints {
  // load_balancer_endpoints / leds_cluster_locality_config (LEDS) and proximity are not implemented.
  onlyFields(le, path, issues, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority', 'metadata']);
  const list = readList(le, 'lb_endpoints');
  const cache = list.length < REUSE_MIN_ENDPOINTS ? undefined : opts.requireIp ? decodedIp : decodedAny;
  const endpoints: EndpointConfig[] = new Array(list.length);
  for (let j = 0; j < list.length; j++) {
    const e: Canon = list[j];
    // The binary decoder hands out the same canonical object for an endpoint that did not
    // change (proto/assignment_reuse.ts): its decoded form is the same too.
    let d = cache !== undefined && typeof e === 'object' && e !== null ? cache.get(e) : undefined;
    if (d === undefined) {
      const before = issues.list.length;
      d = decodeLbEndpoint(e, join(join(path, 'lb_endpoints'), j), issues, opts);
      if (cache !== undefined && issues.list.length === before && typeof e === 'object' && e !== null) cache.set(e, d);
    }
    endpoints[j] = d;
  }
  return {
    locality: readMessage(le, 'locality'),
    weight: readNumber(le, 'load_balancing_weight'),
    priority: readNumber(le, 'priority', 0),
    endpoints,
  };
}

/** Localities this large remember their endpoints' decoded forms (small ones are not worth it). */
const REUSE_MIN_ENDPOINTS = 64;
/** Canonical LbEndpoint → its decoded form, for endpoints that decoded without a problem (by requireIp). */
const decodedIp = new WeakMap<Canon, EndpointConfig>();
const decodedAny = new WeakMap<Canon, EndpointConfig>();

function decodeLbEndpoint(e: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions): EndpointConfig {
  onlyFields(e, path, issues, ['endpoint', 'health_status', 'metadata', 'load_balancing_weight']);
  const ep = readMessage(e, 'endpoint');
  const epPath = join(path, 'endpoint');
  // additional_addresses comes with happy eyeballs.
  onlyFields(ep, epPath, issues, ['address', 'hostname', 'health_check_config']);
  if (!ep) issues.add(epPath, 'is required');
  else requireField(ep, 'address', epPath, issues);
  const address = decodeAddress(readMessage(ep, 'address'), join(epPath, 'address'), issues);
  if (opts.requireIp && ep?.address) requireIp(address, join(epPath, 'address'), issues);
  return {
    address,
    weight: readNumber(e, 'load_balancing_weight', 1),
    healthStatus: readString(e, 'health_status', 'UNKNOWN') as HealthStatus,
    hostname: readString(ep, 'hostname'),
    hashKey: lbHashKey(readMessage(e, 'metadata')),
    ...(ep?.health_check_config !== undefined ? { healthCheck: decodeEndpointHealthCheck(readMessage(ep, 'health_check_config') ?? {}, join(epPath, 'health_check_config'), issues) } : {}),
  };
}

/** Endpoint.HealthCheckConfig: another port or Host for this endpoint's checks, or none at all. */
function decodeEndpointHealthCheck(c: Canon, path: string, issues: ConfigIssues): EndpointHealthCheckConfig {
  // `address` (check another IP) is not implemented: rejected by name.
  onlyFields(c, path, issues, ['port_value', 'hostname', 'disable_active_health_check']);
  return {
    portValue: readNumber(c, 'port_value', 0),
    hostname: readString(c, 'hostname', ''),
    disableActiveHealthCheck: c.disable_active_health_check === true,
  };
}

/**
 * Envoy's per-host placement key override for ring hash and Maglev: the string
 * `filter_metadata["envoy.lb"].hash_key` of the endpoint's metadata (a non-string is ignored, as in Envoy).
 */
function lbHashKey(md: Canon | undefined): string | undefined {
  const v = readMessage(readMessage(md, 'filter_metadata'), 'envoy.lb')?.hash_key;
  return typeof v === 'string' && v !== '' ? v : undefined;
}
