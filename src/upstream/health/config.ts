// Active health checking, decoded (config.core.v3.HealthCheck): what the checker and its
// probes read. Decoded once in src/xds/resources/health_check.ts.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/health_check.proto
import type { HeaderMutations } from '../../routing/types';

export interface HttpCheckConfig {
  t: 'http';
  /** HttpHealthCheck.host ('' = the cluster's name, unless the endpoint sets a hostname). */
  host: string;
  path: string;
  method: string;
  /** Half-open [start, end) ranges; default [[200, 201]]. */
  expectedStatuses: Array<[number, number]>;
  retriableStatuses: Array<[number, number]>;
  /** request_headers_to_add / _to_remove, in the route tables' form. */
  headers: HeaderMutations;
  codec: 'http1' | 'http2';
  /** Payloads the first response_buffer_size bytes of the body must contain, in order. */
  receive: Buffer[];
  /** response_buffer_size (0 = the whole body; default 1024). */
  responseBufferSize: number;
}

export interface TcpCheckConfig {
  t: 'tcp';
  /** Bytes sent once connected (empty: connect-only check). */
  send: Buffer;
  /** Blocks the response must contain, in order, not necessarily contiguous. */
  receive: Buffer[];
}

export interface GrpcCheckConfig {
  t: 'grpc';
  serviceName: string;
  /** '' = the cluster's name, unless the endpoint sets a hostname. */
  authority: string;
  /** initial_metadata, in the route tables' form (request side only). */
  metadata: HeaderMutations;
}

export type CheckKind = HttpCheckConfig | TcpCheckConfig | GrpcCheckConfig;

export interface HealthCheckConfig {
  timeoutMs: number;
  intervalMs: number;
  initialJitterMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  reuseConnection: boolean;
  /** Intervals by state (defaults as the proto documents them, resolved at decode time). */
  noTrafficIntervalMs: number;
  noTrafficHealthyIntervalMs: number;
  unhealthyIntervalMs: number;
  unhealthyEdgeIntervalMs: number;
  healthyEdgeIntervalMs: number;
  alwaysLogHealthCheckFailures: boolean;
  alwaysLogHealthCheckSuccess: boolean;
  check: CheckKind;
}

/** An endpoint's health_check_config (config.endpoint.v3.Endpoint.HealthCheckConfig). */
export interface EndpointHealthCheckConfig {
  /** Checks go to this port instead of the serving one (0 = the serving port). */
  portValue: number;
  /** Host / :authority of L7 checks for this endpoint ('' = the cluster-level setting). */
  hostname: string;
  disableActiveHealthCheck: boolean;
}
