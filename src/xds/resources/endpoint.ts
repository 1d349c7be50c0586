// envoy.config.endpoint.v3.ClusterLoadAssignment (canonical form) → localities, the one
// decoder for both a cluster's inline load_assignment and an EDS resource.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/endpoint/v3/endpoint.proto
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/endpoint/v3/endpoint_components.proto
import { ConfigIssues, join } from '../../config/issues';
import type { EndpointConfig, HealthStatus, LocalityEndpoints } from '../../config/types';
import type { Canon } from '../proto/canonical';
import { decodeAddress, requireIp } from './address';
import { NOT_SUPPORTED, onlyFields, readList, readMessage, readNumber, readString, requireField } from './fields';

export interface ClusterLoadAssignmentConfig {
  /** The cluster (or EDS service_name) the assignment is for. */
  clusterName: string;
  localities: LocalityEndpoints[];
}

export interface LoadAssignmentOptions {
  /**
   * Endpoint addresses must be IP literals: true for EDS and STATIC clusters, false for
   * STRICT_DNS / LOGICAL_DNS, whose addresses are names to resolve.
   */
  requireIp: boolean;
}

/**
 * Decodes a ClusterLoadAssignment. The `policy` (overprovisioning_factor, drop_overloads,
 * endpoint_stale_after, weighted_priority_health) changes how Envoy spreads load across
 * priorities and drops requests; Switchyard does not implement it yet, so each is rejected
 * by name rather than ignored. named_endpoints comes with endpoint_name, also not supported.
 */
export function decodeClusterLoadAssignment(
  canon: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions = { requireIp: true },
): ClusterLoadAssignmentConfig {
  onlyFields(canon, path, issues, ['cluster_name', 'endpoints', 'policy']);
  const policy = readMessage(canon, 'policy');
  if (policy) {
    const pp = join(path, 'policy');
    for (const k of Object.keys(policy)) if (policy[k] !== undefined) issues.add(join(pp, k), `${NOT_SUPPORTED} yet`);
  }
  const localities = readList(canon, 'endpoints').map((le: Canon, i: number) =>
    decodeLocality(le, join(join(path, 'endpoints'), i), issues, opts));
  return { clusterName: readString(canon, 'cluster_name', ''), localities };
}

function decodeLocality(le: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions): LocalityEndpoints {
  // load_balancer_endpoints / leds_cluster_locality_config (LEDS) and proximity are not implemented.
  onlyFields(le, path, issues, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority', 'metadata']);
  const endpoints = readList(le, 'lb_endpoints').map((e: Canon, j: number) =>
    decodeLbEndpoint(e, join(join(path, 'lb_endpoints'), j), issues, opts));
  return {
    locality: readMessage(le, 'locality'),
    weight: readNumber(le, 'load_balancing_weight'),
    priority: readNumber(le, 'priority', 0),
    endpoints,
  };
}

function decodeLbEndpoint(e: Canon, path: string, issues: ConfigIssues, opts: LoadAssignmentOptions): EndpointConfig {
  onlyFields(e, path, issues, ['endpoint', 'health_status', 'metadata', 'load_balancing_weight']);
  const ep = readMessage(e, 'endpoint');
  const epPath = join(path, 'endpoint');
  // health_check_config and additional_addresses come with health checking / happy eyeballs.
  onlyFields(ep, epPath, issues, ['address', 'hostname']);
  if (!ep) issues.add(epPath, 'is required');
  else requireField(ep, 'address', epPath, issues);
  const address = decodeAddress(readMessage(ep, 'address'), join(epPath, 'address'), issues);
  if (opts.requireIp && ep?.address) requireIp(address, join(epPath, 'address'), issues);
  return {
    address,
    weight: readNumber(e, 'load_balancing_weight', 1),
    healthStatus: readString(e, 'health_status', 'UNKNOWN') as HealthStatus,
    hostname: readString(ep, 'hostname'),
  };
}
