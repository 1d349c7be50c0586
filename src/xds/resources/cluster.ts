// envoy.config.cluster.v3.Cluster (canonical form) → ClusterConfig.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto
import { ConfigIssues, join } from '../../config/issues';
import { isIP } from 'node:net';
import type { ClusterConfig, DiscoveryType, LocalityEndpoints, OriginalDstClusterConfig } from '../../config/types';
import { Canon, typeName } from '../proto/canonical';
import { decodeSocketAddress } from './address';
import { decodeConfigSource } from './config_source';
import type { PathSourceSpec } from '../../config/types';
import { decodeClusterLoadAssignment } from './endpoint';
import { decodeCircuitBreakers } from '../../upstream/circuit_breakers';
import { LB_CLUSTER_FIELDS, decodeLbConfig } from './lb_policy';
import { decodeHealthCheck } from './health_check';
import { decodeOutlierDetection } from './outlier_detection';
import type { HealthCheckConfig } from '../../upstream/health/config';
import {
  NOT_SUPPORTED, onlyFields, readBool, readDurationMs, readEnum, readList, readMessage, readNumber, readString, rejectField, rejectFieldYet, requireField,
} from './fields';

const CLUSTER_FIELDS = [
  'name', 'alt_stat_name', 'type', 'eds_cluster_config', 'connect_timeout', 'per_connection_buffer_limit_bytes',
  'lb_policy', 'load_assignment', 'max_requests_per_connection', 'common_http_protocol_options',
  'http_protocol_options', 'http2_protocol_options', 'typed_extension_protocol_options', 'dns_refresh_rate',
  'dns_lookup_family', 'metadata', ...LB_CLUSTER_FIELDS,
  'cleanup_interval', 'original_dst_lb_config', 'upstream_bind_config', 'circuit_breakers',
  'health_checks', 'outlier_detection', 'ignore_health_on_host_removal',
];

const TYPES: DiscoveryType[] = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'];
const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV', 'CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG'] as const;
const DNS_FAMILIES = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'] as const;
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
// Envoy also accepts the extension's well-known name as the map key.
const HTTP_OPTIONS_KEYS = [HTTP_OPTIONS, 'envoy.upstreams.http.http_protocol_options'];

export function decodeCluster(canon: Canon, path: string, issues: ConfigIssues): ClusterConfig {
  onlyFields(canon, path, issues, CLUSTER_FIELDS);
  requireField(canon, 'name', path, issues);
  const name = readString(canon, 'name', '');
  const type = readEnum(canon, 'type', path, issues, 'STATIC', TYPES);
  const lbPolicy = readEnum(canon, 'lb_policy', path, issues, 'ROUND_ROBIN', LB_POLICIES);
  // Envoy: ORIGINAL_DST clusters take their host from the connection, so only
  // CLUSTER_PROVIDED makes sense there (and must be set: unset reads as ROUND_ROBIN),
  // and CLUSTER_PROVIDED nowhere else.
  if (type === 'ORIGINAL_DST' && lbPolicy !== 'CLUSTER_PROVIDED') {
    issues.add(join(path, 'lb_policy'), `${lbPolicy} is not valid for cluster type ORIGINAL_DST; only CLUSTER_PROVIDED is allowed`);
  }
  if (type !== 'ORIGINAL_DST' && lbPolicy === 'CLUSTER_PROVIDED') {
    issues.add(join(path, 'lb_policy'), 'CLUSTER_PROVIDED is only valid with cluster type ORIGINAL_DST');
  }
  const lb = decodeLbConfig(canon, lbPolicy, path, issues);
  if (type !== 'ORIGINAL_DST') {
    rejectField(canon, 'original_dst_lb_config', path, issues, 'only valid for type ORIGINAL_DST');
    rejectField(canon, 'cleanup_interval', path, issues, 'only valid for type ORIGINAL_DST');
  } else {
    // Hosts of an ORIGINAL_DST cluster come and go per connection: no health checking of them yet.
    rejectField(canon, 'health_checks', path, issues, 'for cluster type ORIGINAL_DST');
    rejectField(canon, 'outlier_detection', path, issues, 'for cluster type ORIGINAL_DST');
  }
  if (readList(canon, 'health_checks').length > 1) {
    // Envoy: "Multiple health checks not supported".
    issues.add(join(path, 'health_checks'), 'multiple health checks not supported');
  }
  const localities = decodeLoadAssignment(canon, type, path, issues);
  if (type !== 'EDS') rejectField(canon, 'eds_cluster_config', path, issues, 'only valid for type EDS');
  const eds = type === 'EDS' ? decodeEdsClusterConfig(canon, name, path, issues) : undefined;
  const edsServiceName = eds?.serviceName;
  const proto = decodeProtocolOptions(canon, path, issues);
  const http2 = proto.upstreamProtocol !== 'http1';
  const healthChecks = readList(canon, 'health_checks')
    .map((h: Canon, i: number) => decodeHealthCheck(h, join(join(path, 'health_checks'), i), issues, http2))
    .filter((h): h is HealthCheckConfig => h !== undefined);
  const od = readMessage(canon, 'outlier_detection');
  return {
    name,
    type,
    ...(edsServiceName !== undefined ? { edsServiceName } : {}),
    ...(eds?.path !== undefined ? { edsPath: eds.path } : {}),
    connectTimeoutMs: readDurationMs(canon, 'connect_timeout', path, issues, 5000), // Envoy default 5s
    // ORIGINAL_DST clusters pick no host from a list: the connection names it (CLUSTER_PROVIDED).
    lbPolicy: type === 'ORIGINAL_DST' ? 'CLUSTER_PROVIDED' : lb.policy,
    lb,
    localities,
    overprovisioningFactor: inlineOverprovisioning(canon),
    dnsRefreshRateMs: readDurationMs(canon, 'dns_refresh_rate', path, issues, 5000),
    dnsLookupFamily: readEnum(canon, 'dns_lookup_family', path, issues, 'AUTO', DNS_FAMILIES),
    ...proto,
    perConnectionBufferLimitBytes: readNumber(canon, 'per_connection_buffer_limit_bytes', 1048576),
    ...(type === 'ORIGINAL_DST' ? { originalDst: decodeOriginalDstLbConfig(canon, path, issues) } : {}),
    ...decodeBindConfig(readMessage(canon, 'upstream_bind_config'), join(path, 'upstream_bind_config'), issues),
    healthChecks,
    ...(od !== undefined ? { outlier: decodeOutlierDetection(od, join(path, 'outlier_detection'), issues) } : {}),
    ignoreHealthOnHostRemoval: readBool(canon, 'ignore_health_on_host_removal', false),
    circuitBreakers: decodeCircuitBreakers(readMessage(canon, 'circuit_breakers'), join(path, 'circuit_breakers'), issues),
    raw: canon,
  };
}

/** The inline load_assignment's policy.overprovisioning_factor (Envoy default 140, i.e. 1.4). */
function inlineOverprovisioning(canon: Canon): number {
  return readNumber(readMessage(readMessage(canon, 'load_assignment'), 'policy'), 'overprovisioning_factor', 140);
}

/**
 * ORIGINAL_DST: hosts come from each connection's original destination (or, with
 * use_http_header, from the x-envoy-original-dst-host header) and are forgotten when unused
 * for cleanup_interval (default 5 s).
 */
function decodeOriginalDstLbConfig(canon: Canon, path: string, issues: ConfigIssues): OriginalDstClusterConfig {
  const c = readMessage(canon, 'original_dst_lb_config');
  const p = join(path, 'original_dst_lb_config');
  onlyFields(c, p, issues, ['use_http_header', 'http_header_name', 'upstream_port_override']);
  const header = readString(c, 'http_header_name', '');
  return {
    cleanupIntervalMs: readDurationMs(canon, 'cleanup_interval', path, issues, 5000),
    useHttpHeader: readBool(c, 'use_http_header', false),
    httpHeaderName: (header || 'x-envoy-original-dst-host').toLowerCase(),
    ...(readNumber(c, 'upstream_port_override') !== undefined ? { upstreamPortOverride: readNumber(c, 'upstream_port_override') } : {}),
  };
}

/** upstream_bind_config: the source address of upstream connections (Istio binds inbound passthrough to 127.0.0.6). */
function decodeBindConfig(bc: Canon | undefined, path: string, issues: ConfigIssues): { upstreamBind?: { address: string; port: number } } {
  if (!bc) return {};
  onlyFields(bc, path, issues, ['source_address', 'freebind']);
  if (readBool(bc, 'freebind', false)) issues.add(join(path, 'freebind'), `true is ${NOT_SUPPORTED} yet`);
  if (!requireField(bc, 'source_address', path, issues)) return {};
  const sp = join(path, 'source_address');
  const a = decodeSocketAddress(readMessage(bc, 'source_address') ?? {}, sp, issues);
  if (isIP(a.address) === 0) {
    issues.add(join(sp, 'address'), `must be an IP address, got ${JSON.stringify(a.address)}`);
    return {};
  }
  return { upstreamBind: { address: a.address, port: a.port } };
}

/**
 * The inline load_assignment. Envoy: it is "required for specifying members of STATIC,
 * STRICT_DNS or LOGICAL_DNS clusters"; an EDS cluster gets its members from EDS and an
 * ORIGINAL_DST cluster from the connection, so there it is rejected rather than ignored.
 */
function decodeLoadAssignment(canon: Canon, type: DiscoveryType, path: string, issues: ConfigIssues): LocalityEndpoints[] {
  const la = readMessage(canon, 'load_assignment');
  const lap = join(path, 'load_assignment');
  if (!la) return [];
  if (type === 'ORIGINAL_DST' || type === 'EDS') {
    issues.add(lap, `not allowed for cluster type ${type}${type === 'EDS' ? ' (endpoints come from eds_cluster_config)' : ''}`);
    return [];
  }
  const out = decodeClusterLoadAssignment(la, lap, issues, { requireIp: type === 'STATIC' }).localities;
  if (type === 'LOGICAL_DNS' && (out.length !== 1 || out[0].endpoints.length !== 1)) {
    // Envoy: "LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint".
    issues.add(lap, 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint');
  }
  return out;
}

/**
 * eds_cluster_config of an EDS cluster: `eds_config` is `ads: {}` (the bootstrap's ADS
 * stream) or a file (path_config_source); the ClusterLoadAssignment to watch is
 * `service_name`, else the cluster's name.
 */
function decodeEdsClusterConfig(canon: Canon, name: string, path: string, issues: ConfigIssues): { serviceName: string; path?: PathSourceSpec } {
  const ecc = readMessage(canon, 'eds_cluster_config');
  const p = join(path, 'eds_cluster_config');
  if (!ecc) {
    issues.add(p, 'is required for cluster type EDS');
    return { serviceName: name };
  }
  onlyFields(ecc, p, issues, ['eds_config', 'service_name']);
  const src = requireField(ecc, 'eds_config', p, issues) ? decodeConfigSource(readMessage(ecc, 'eds_config'), join(p, 'eds_config'), issues) : undefined;
  const serviceName = readString(ecc, 'service_name') || name;
  return src?.kind === 'path' ? { serviceName, path: src } : { serviceName };
}

type ProtocolFields = Pick<ClusterConfig, 'upstreamProtocol' | 'upstreamIdleTimeoutMs' | 'maxRequestsPerConnection'>;

/**
 * Upstream HTTP protocol settings, from the HttpProtocolOptions extension or the
 * deprecated cluster-level fields (Envoy rejects a cluster that sets both).
 */
function decodeProtocolOptions(canon: Canon, path: string, issues: ConfigIssues): ProtocolFields {
  const out: ProtocolFields = { upstreamProtocol: 'http1', upstreamIdleTimeoutMs: 3600000, maxRequestsPerConnection: 0 };
  const tepo = readMessage(canon, 'typed_extension_protocol_options');
  const tp = join(path, 'typed_extension_protocol_options');
  let common: Canon | undefined;
  let commonPath = '';
  let typed = false;
  for (const key of Object.keys(tepo ?? {})) {
    const kp = `${tp}[${JSON.stringify(key)}]`;
    const any = tepo![key] as Canon;
    if (!HTTP_OPTIONS_KEYS.includes(key) || typeName(String(any['@type'])) !== HTTP_OPTIONS) {
      issues.add(kp, `unsupported typed_config @type "${any['@type']}"`);
      continue;
    }
    typed = true;
    onlyFields(any, kp, issues, ['common_http_protocol_options', 'explicit_http_config', 'use_downstream_protocol_config']);
    common = readMessage(any, 'common_http_protocol_options');
    commonPath = join(kp, 'common_http_protocol_options');
    const explicit = readMessage(any, 'explicit_http_config');
    const downstream = readMessage(any, 'use_downstream_protocol_config');
    if (explicit) {
      const ep = join(kp, 'explicit_http_config');
      onlyFields(explicit, ep, issues, ['http_protocol_options', 'http2_protocol_options']);
      emptyOptions(explicit, 'http_protocol_options', ep, issues);
      emptyOptions(explicit, 'http2_protocol_options', ep, issues);
      out.upstreamProtocol = explicit.http2_protocol_options ? 'http2' : 'http1';
    } else if (downstream) {
      const dp = join(kp, 'use_downstream_protocol_config');
      onlyFields(downstream, dp, issues, ['http_protocol_options', 'http2_protocol_options']);
      emptyOptions(downstream, 'http_protocol_options', dp, issues);
      emptyOptions(downstream, 'http2_protocol_options', dp, issues);
      out.upstreamProtocol = 'downstream';
    } else {
      issues.add(kp, 'set explicit_http_config or use_downstream_protocol_config (auto_config is not supported by switchyard)');
    }
  }
  const legacy = ['http_protocol_options', 'http2_protocol_options', 'common_http_protocol_options', 'max_requests_per_connection'];
  const legacySet = legacy.filter((f) => canon[f] !== undefined);
  if (typed && legacySet.length) {
    issues.add(join(path, legacySet[0]), 'cannot be set together with typed_extension_protocol_options');
  } else if (!typed) {
    emptyOptions(canon, 'http_protocol_options', path, issues);
    emptyOptions(canon, 'http2_protocol_options', path, issues);
    if (canon.http2_protocol_options) out.upstreamProtocol = 'http2';
    common = readMessage(canon, 'common_http_protocol_options');
    commonPath = join(path, 'common_http_protocol_options');
    out.maxRequestsPerConnection = readNumber(canon, 'max_requests_per_connection', 0);
  }
  if (common) {
    onlyFields(common, commonPath, issues, ['idle_timeout', 'max_requests_per_connection']);
    out.upstreamIdleTimeoutMs = readDurationMs(common, 'idle_timeout', commonPath, issues, 3600000); // Envoy: 1h
    out.maxRequestsPerConnection = readNumber(common, 'max_requests_per_connection', out.maxRequestsPerConnection);
  }
  return out;
}

/** Http1/Http2ProtocolOptions select the protocol; none of their tuning fields is implemented yet. */
function emptyOptions(parent: Canon, field: string, path: string, issues: ConfigIssues): void {
  const o = readMessage(parent, field);
  if (o) onlyFields(o, join(path, field), issues, []);
}
