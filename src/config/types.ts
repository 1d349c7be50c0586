import type { CircuitBreakersConfig } from '../upstream/circuit_breakers';
// Domain types for bootstrap, listeners and clusters: what the runtime sees after
// decoding (design convention 1: raw protos stop at the decoders).
import type { LbConfig } from '../upstream/lb/config';
import type { EndpointHealthCheckConfig, HealthCheckConfig } from '../upstream/health/config';
import type { OutlierConfig } from '../upstream/outlier/config';
import type { Canon } from '../xds/proto/canonical';

export interface SocketAddress {
  /** IP literal or hostname as written in the config. */
  address: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
}

export interface AdminConfig {
  address: SocketAddress;
}

/** A network filter, decoded once per config into a factory (design convention 4). */
export interface NetworkFilterConfig {
  name: string;
  typeUrl: string;
  /** Filter-specific decoded config (TcpProxyConfig, HcmConfig, ...). */
  config: unknown;
}

export interface CidrRange {
  address: string;
  prefixLen: number;
}

export interface FilterChainMatch {
  destinationPort?: number;
  prefixRanges: CidrRange[];
  sourcePrefixRanges: CidrRange[];
  sourcePorts: number[];
  serverNames: string[];
  transportProtocol?: string;
  applicationProtocols: string[];
}

export interface FilterChainConfig {
  name: string;
  match: FilterChainMatch;
  filters: NetworkFilterConfig[];
  /** TLS transport socket comes with the mTLS issue; undefined means raw_buffer. */
  transportSocket?: Canon;
}

export interface ListenerConfig {
  name: string;
  address: SocketAddress;
  filterChains: FilterChainConfig[];
  defaultFilterChain?: FilterChainConfig;
  /** Listener filters (tls_inspector, http_inspector, original_dst) by name, decoded. */
  listenerFilters: NetworkFilterConfig[];
  listenerFiltersTimeoutMs: number;
  continueOnListenerFiltersTimeout: boolean;
  useOriginalDst: boolean;
  transparent: boolean;
  bindToPort: boolean;
  perConnectionBufferLimitBytes: number;
  /** The listener as decoded (canonical form), for /config_dump. */
  raw: Canon;
}

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';
export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface EndpointConfig {
  address: SocketAddress;
  /** load_balancing_weight, default 1. */
  weight: number;
  healthStatus: HealthStatus;
  hostname?: string;
  /** metadata.filter_metadata["envoy.lb"].hash_key: the host's key for ring hash / Maglev placement. */
  hashKey?: string;
  /** endpoint.health_check_config. */
  healthCheck?: EndpointHealthCheckConfig;
}

export interface LocalityEndpoints {
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** load_balancing_weight of the locality; undefined when unset. */
  weight?: number;
  priority: number;
  endpoints: EndpointConfig[];
}

export interface OriginalDstClusterConfig {
  cleanupIntervalMs: number;
  useHttpHeader: boolean;
  /** Lower-cased; x-envoy-original-dst-host by default. */
  httpHeaderName: string;
  upstreamPortOverride?: number;
}

export interface ClusterConfig {
  name: string;
  type: DiscoveryType;
  /** EDS clusters: the ClusterLoadAssignment name to watch (eds_cluster_config.service_name, else the cluster name). */
  edsServiceName?: string;
  /** EDS clusters: eds_config, when it is a file (path_config_source); else ADS. */
  edsPath?: PathSourceSpec;
  connectTimeoutMs: number;
  /** The load-balancing policy in force (from lb_policy or load_balancing_policy). */
  lbPolicy: string;
  /** Everything about load balancing, decoded (src/xds/resources/lb_policy.ts). */
  lb: LbConfig;
  localities: LocalityEndpoints[];
  /** The inline load_assignment's policy.overprovisioning_factor (default 140); EDS brings its own. */
  overprovisioningFactor: number;
  /** DNS refresh for STRICT_DNS / LOGICAL_DNS. */
  dnsRefreshRateMs: number;
  dnsLookupFamily: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  /** Upstream protocol: from typed_extension_protocol_options (envoy.extensions.upstreams.http.v3.HttpProtocolOptions) or http2_protocol_options. */
  upstreamProtocol: 'http1' | 'http2' | 'downstream';
  /** common_http_protocol_options.idle_timeout for upstream connections (default 1h like Envoy). */
  upstreamIdleTimeoutMs: number;
  /** max_requests_per_connection (0 = unlimited). */
  maxRequestsPerConnection: number;
  perConnectionBufferLimitBytes: number;
  /** Type ORIGINAL_DST: original_dst_lb_config and cleanup_interval. */
  originalDst?: OriginalDstClusterConfig;
  /** upstream_bind_config.source_address: the source of upstream connections. */
  upstreamBind?: { address: string; port: number };
  /** health_checks: active health checking (src/upstream/health/). */
  healthChecks: HealthCheckConfig[];
  /** outlier_detection: passive health checking (src/upstream/outlier/); absent = off. */
  outlier?: OutlierConfig;
  /** ignore_health_on_host_removal: with active health checks, drop removed hosts at once. */
  ignoreHealthOnHostRemoval: boolean;
  /** circuit_breakers.thresholds per priority (Envoy's defaults when absent). */
  circuitBreakers: CircuitBreakersConfig;
  /** The cluster as decoded (canonical form), for /config_dump. */
  raw: Canon;
}

/** bootstrap.dynamic_resources: where listeners and clusters come from over xDS. */
/** A ConfigSource's path_config_source (or deprecated `path`): resources from a watched file. */
export interface PathSourceSpec {
  kind: 'path';
  /** Absolute path of the file holding a DiscoveryResponse (YAML or JSON). */
  path: string;
  /** watched_directory.path: a move into it reloads `path` (else moves onto `path` do). */
  watchedDirectory?: string;
  initialFetchTimeoutMs?: number;
}

/** envoy.config.core.v3.ConfigSource, as far as Switchyard fetches from it. */
export type ConfigSourceSpec = { kind: 'ads'; initialFetchTimeoutMs?: number } | PathSourceSpec;

export interface DynamicResourcesConfig {
  /** ads_config: one ADS stream for everything (absent when no config source is `ads`). */
  ads?: {
    api: 'sotw' | 'delta';
    /** host:port of the management server (from envoy_grpc.cluster_name's endpoint, or google_grpc.target_uri). */
    target: string;
    /** envoy_grpc.cluster_name when used (a static cluster). */
    clusterName?: string;
  };
  /** lds_config / cds_config are set (over ADS, or from a file when ldsPath / cdsPath is set). */
  lds: boolean;
  cds: boolean;
  ldsPath?: PathSourceSpec;
  cdsPath?: PathSourceSpec;
  /** initial_fetch_timeout of lds_config / cds_config (Envoy default 15 s; 0 = wait forever). */
  initialFetchTimeoutMs: number;
}

export interface BootstrapConfig {
  node: NodeInfo;
  admin?: AdminConfig;
  dynamic?: DynamicResourcesConfig;
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  /** The bootstrap as decoded (canonical form), for /config_dump. */
  raw: Canon;
  /** Where it came from, for messages and /server_info. */
  source: string;
}
