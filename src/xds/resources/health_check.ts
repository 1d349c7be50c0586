// config.core.v3.HealthCheck (canonical form) → HealthCheckConfig, for a cluster's
// health_checks. Defaults are resolved here as the proto documents them, so the checker
// reads plain numbers.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/health_check.proto
import { ConfigIssues, join } from '../../config/issues';
import type { Canon } from '../proto/canonical';
import { decodeHeaderMutations } from '../../routing/decode_action';
import type { CheckKind, HealthCheckConfig } from '../../upstream/health/config';
import {
  onlyFields, readBool, readDurationMs, readEnum, readList, readMessage, readNumber, readString, requireField,
} from './fields';

const HC_FIELDS = [
  'timeout', 'interval', 'initial_jitter', 'interval_jitter', 'interval_jitter_percent', 'unhealthy_threshold',
  'healthy_threshold', 'reuse_connection', 'http_health_check', 'tcp_health_check', 'grpc_health_check',
  'no_traffic_interval', 'no_traffic_healthy_interval', 'unhealthy_interval', 'unhealthy_edge_interval',
  'healthy_edge_interval', 'always_log_health_check_failures', 'always_log_health_check_success',
];
const METHODS = ['METHOD_UNSPECIFIED', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH'] as const;

/**
 * One entry of Cluster.health_checks. `http2` says whether the cluster speaks HTTP/2 to its
 * hosts: Envoy refuses a gRPC health check on a cluster that does not.
 */
export function decodeHealthCheck(canon: Canon, path: string, issues: ConfigIssues, clusterHttp2: boolean): HealthCheckConfig | undefined {
  onlyFields(canon, path, issues, HC_FIELDS);
  for (const f of ['timeout', 'interval', 'unhealthy_threshold', 'healthy_threshold']) requireField(canon, f, path, issues);
  const timeoutMs = readDurationMs(canon, 'timeout', path, issues, 1000);
  const intervalMs = readDurationMs(canon, 'interval', path, issues, 1000);
  if (canon.timeout !== undefined && timeoutMs <= 0) issues.add(join(path, 'timeout'), 'must be greater than 0s');
  if (canon.interval !== undefined && intervalMs <= 0) issues.add(join(path, 'interval'), 'must be greater than 0s');
  const kinds = ['http_health_check', 'tcp_health_check', 'grpc_health_check'].filter((k) => canon[k] !== undefined);
  let check: CheckKind | undefined;
  if (kinds.length === 0) {
    issues.add(path, 'one of http_health_check, tcp_health_check, grpc_health_check is required (custom_health_check is not supported by switchyard)');
  } else if (kinds[0] === 'http_health_check') {
    check = decodeHttp(readMessage(canon, kinds[0]) ?? {}, join(path, kinds[0]), issues);
  } else if (kinds[0] === 'tcp_health_check') {
    check = decodeTcp(readMessage(canon, kinds[0]) ?? {}, join(path, kinds[0]), issues);
  } else {
    const gp = join(path, kinds[0]);
    check = decodeGrpc(readMessage(canon, kinds[0]) ?? {}, gp, issues);
    // Envoy: "<cluster> cluster must support HTTP/2 for gRPC healthchecking".
    if (!clusterHttp2) issues.add(gp, 'the cluster must support HTTP/2 (http2_protocol_options) for gRPC health checking');
  }
  const interval = intervalMs;
  const unhealthyIntervalMs = readDurationMs(canon, 'unhealthy_interval', path, issues, interval);
  const noTrafficIntervalMs = readDurationMs(canon, 'no_traffic_interval', path, issues, 60_000);
  const out: HealthCheckConfig = {
    timeoutMs,
    intervalMs,
    initialJitterMs: readDurationMs(canon, 'initial_jitter', path, issues, 0),
    intervalJitterMs: readDurationMs(canon, 'interval_jitter', path, issues, 0),
    intervalJitterPercent: readNumber(canon, 'interval_jitter_percent', 0),
    unhealthyThreshold: readNumber(canon, 'unhealthy_threshold', 1),
    healthyThreshold: readNumber(canon, 'healthy_threshold', 1),
    reuseConnection: readBool(canon, 'reuse_connection', true),
    noTrafficIntervalMs,
    // Each of these defaults to the one it refines, as the proto documents.
    noTrafficHealthyIntervalMs: readDurationMs(canon, 'no_traffic_healthy_interval', path, issues, noTrafficIntervalMs),
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: readDurationMs(canon, 'unhealthy_edge_interval', path, issues, unhealthyIntervalMs),
    healthyEdgeIntervalMs: readDurationMs(canon, 'healthy_edge_interval', path, issues, interval),
    alwaysLogHealthCheckFailures: readBool(canon, 'always_log_health_check_failures', false),
    alwaysLogHealthCheckSuccess: readBool(canon, 'always_log_health_check_success', false),
    check: check ?? { t: 'tcp', send: Buffer.alloc(0), receive: [] },
  };
  for (const f of ['unhealthy_threshold', 'healthy_threshold'] as const) {
    if (canon[f] !== undefined && readNumber(canon, f, 1) < 1) issues.add(join(path, f), 'must be at least 1');
  }
  for (const f of ['no_traffic_interval', 'no_traffic_healthy_interval', 'unhealthy_interval', 'unhealthy_edge_interval', 'healthy_edge_interval']) {
    if (canon[f] !== undefined && readDurationMs(canon, f, path, new ConfigIssues(), 1) <= 0) issues.add(join(path, f), 'must be greater than 0s');
  }
  return check === undefined ? undefined : out;
}

/** A Payload: hex `text` or raw `binary`. */
function decodePayload(canon: Canon | undefined, path: string, issues: ConfigIssues): Buffer {
  if (!canon) return Buffer.alloc(0);
  onlyFields(canon, path, issues, ['text', 'binary']);
  if (canon.binary !== undefined) return Buffer.from(canon.binary as Buffer);
  const text = readString(canon, 'text', '');
  // Envoy decodes the hex with Hex::decode and rejects anything that is not whole hex pairs.
  if (text === '' || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    issues.add(join(path, 'text'), `invalid hex payload ${JSON.stringify(text)}`);
    return Buffer.alloc(0);
  }
  return Buffer.from(text, 'hex');
}

function decodeRanges(canon: Canon, field: string, path: string, issues: ConfigIssues): Array<[number, number]> {
  return readList(canon, field).map((r: Canon, i: number) => {
    const rp = join(join(path, field), i);
    onlyFields(r, rp, issues, ['start', 'end']);
    const start = Number(r.start ?? 0);
    const end = Number(r.end ?? 0);
    // Envoy: ranges must lie within [100, 600) and be non-empty.
    if (start < 100 || end > 600 || start >= end) issues.add(rp, `invalid range [${start}, ${end}): statuses must be within [100, 600) and start < end`);
    return [start, end] as [number, number];
  });
}

function decodeHttp(c: Canon, path: string, issues: ConfigIssues): CheckKind {
  onlyFields(c, path, issues, [
    'host', 'path', 'receive', 'response_buffer_size', 'request_headers_to_add', 'request_headers_to_remove',
    'expected_statuses', 'retriable_statuses', 'codec_client_type', 'method',
  ]);
  requireField(c, 'path', path, issues);
  const codec = readEnum(c, 'codec_client_type', path, issues, 'HTTP1', ['HTTP1', 'HTTP2'] as const);
  const method = readEnum(c, 'method', path, issues, 'METHOD_UNSPECIFIED', METHODS);
  const expected = decodeRanges(c, 'expected_statuses', path, issues);
  const headers = decodeHeaderMutations(c, path, issues);
  return {
    t: 'http',
    host: readString(c, 'host', ''),
    path: readString(c, 'path', '/'),
    method: method === 'METHOD_UNSPECIFIED' ? 'GET' : method,
    expectedStatuses: expected.length > 0 ? expected : [[200, 201]],
    retriableStatuses: decodeRanges(c, 'retriable_statuses', path, issues),
    headers,
    codec: codec === 'HTTP2' ? 'http2' : 'http1',
    receive: readList(c, 'receive').map((p: Canon, i: number) => decodePayload(p, join(join(path, 'receive'), i), issues)),
    responseBufferSize: readNumber(c, 'response_buffer_size', 1024),
  };
}

function decodeTcp(c: Canon, path: string, issues: ConfigIssues): CheckKind {
  onlyFields(c, path, issues, ['send', 'receive']);
  return {
    t: 'tcp',
    send: decodePayload(readMessage(c, 'send'), join(path, 'send'), issues),
    receive: readList(c, 'receive').map((p: Canon, i: number) => decodePayload(p, join(join(path, 'receive'), i), issues)),
  };
}

function decodeGrpc(c: Canon, path: string, issues: ConfigIssues): CheckKind {
  onlyFields(c, path, issues, ['service_name', 'authority', 'initial_metadata']);
  // initial_metadata has HeaderValueOption entries: decode them as request_headers_to_add.
  const sub = new ConfigIssues();
  const metadata = decodeHeaderMutations({ request_headers_to_add: c.initial_metadata }, path, sub);
  for (const i of sub.list) issues.add(i.path.replace(join(path, 'request_headers_to_add'), join(path, 'initial_metadata')), i.message);
  return { t: 'grpc', serviceName: readString(c, 'service_name', ''), authority: readString(c, 'authority', ''), metadata };
}
