// config.route.v3.RetryPolicy (route and virtual host) decoded into a small domain type,
// and the retry_on vocabulary shared with the x-envoy-retry-on / x-envoy-retry-grpc-on
// request headers. What a response or reset means for a retry is in
// src/filters/network/http_connection_manager/retry_state.ts.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-retrypolicy
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
import { ConfigIssues, join } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';
import { typeName } from '../xds/proto/canonical';
import { NOT_SUPPORTED, onlyFields, readDurationMs, readList, readMessage, readNumber, readString } from '../xds/resources/fields';
import { decodeHeaderMatcher } from './decode_match';
import type { HeaderMatcher } from './types';

/** retry_on conditions as bits (one number per request: no per-request arrays). */
export const enum RetryOn {
  R5xx = 1 << 0,
  GatewayError = 1 << 1,
  Reset = 1 << 2,
  ConnectFailure = 1 << 3,
  Retriable4xx = 1 << 4,
  RefusedStream = 1 << 5,
  RetriableStatusCodes = 1 << 6,
  RetriableHeaders = 1 << 7,
  GrpcCancelled = 1 << 8,
  GrpcDeadlineExceeded = 1 << 9,
  GrpcInternal = 1 << 10,
  GrpcResourceExhausted = 1 << 11,
  GrpcUnavailable = 1 << 12,
}

/** x-envoy-retry-on values. */
const HTTP_ON: Record<string, number> = {
  '5xx': RetryOn.R5xx,
  'gateway-error': RetryOn.GatewayError,
  reset: RetryOn.Reset,
  'connect-failure': RetryOn.ConnectFailure,
  'retriable-4xx': RetryOn.Retriable4xx,
  'refused-stream': RetryOn.RefusedStream,
  'retriable-status-codes': RetryOn.RetriableStatusCodes,
  'retriable-headers': RetryOn.RetriableHeaders,
};
/** x-envoy-retry-grpc-on values (checked against grpc-status of headers-only responses). */
const GRPC_ON: Record<string, number> = {
  cancelled: RetryOn.GrpcCancelled,
  'deadline-exceeded': RetryOn.GrpcDeadlineExceeded,
  internal: RetryOn.GrpcInternal,
  'resource-exhausted': RetryOn.GrpcResourceExhausted,
  unavailable: RetryOn.GrpcUnavailable,
};
/** Envoy values Switchyard does not implement: rejected by name in config, ignored in headers. */
const NOT_IMPLEMENTED = ['envoy-ratelimited', 'reset-before-request', 'http3-post-connect-failure'];

export const PREVIOUS_HOSTS_TYPE = 'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

export interface RetryPolicy {
  retryOn: number;
  /** num_retries, default 1. */
  numRetries: number;
  /** per_try_timeout (0 = none). */
  perTryTimeoutMs: number;
  /** retry_back_off: base 25 ms, max 10× base (Envoy's defaults). */
  backOffBaseMs: number;
  backOffMaxMs: number;
  retriableStatusCodes: number[];
  /** Matched against response headers (retriable-headers). */
  retriableHeaders: HeaderMatcher[];
  /** retry_host_predicate envoy.retry_host_predicates.previous_hosts. */
  previousHosts: boolean;
  /** host_selection_retry_max_attempts, default 1. */
  hostSelectionMaxAttempts: number;
}

/**
 * Parses a comma-separated retry_on list. In config (`issues` given) every token must be
 * known; in request headers unknown tokens are ignored, as Envoy does.
 */
export function parseRetryOn(value: string, grpcOnly: boolean, httpOnly: boolean, path?: string, issues?: ConfigIssues): number {
  let bits = 0;
  for (const raw of value.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    const b = (grpcOnly ? undefined : HTTP_ON[t]) ?? (httpOnly ? undefined : GRPC_ON[t]);
    if (b !== undefined) bits |= b;
    else if (issues !== undefined && path !== undefined) {
      issues.add(path, NOT_IMPLEMENTED.includes(t) ? `"${t}" ${NOT_SUPPORTED}` : `unknown retry_on value "${t}"`);
    }
  }
  return bits;
}

const FIELDS = [
  'retry_on', 'num_retries', 'per_try_timeout', 'retry_back_off', 'retry_host_predicate',
  'host_selection_retry_max_attempts', 'retriable_status_codes', 'retriable_headers',
];

export function decodeRetryPolicy(canon: Canon | undefined, path: string, issues: ConfigIssues): RetryPolicy | undefined {
  if (canon === undefined) return undefined;
  // per_try_idle_timeout, retry_priority, retry_options_predicates, rate_limited_retry_back_off
  // and retriable_request_headers are not implemented.
  onlyFields(canon, path, issues, FIELDS);
  const retryOn = parseRetryOn(readString(canon, 'retry_on', ''), false, false, join(path, 'retry_on'), issues);
  const bo = readMessage(canon, 'retry_back_off');
  const bop = join(path, 'retry_back_off');
  let base = 25;
  let max = 250;
  if (bo !== undefined) {
    onlyFields(bo, bop, issues, ['base_interval', 'max_interval']);
    base = readDurationMs(bo, 'base_interval', bop, issues, 25);
    if (bo.base_interval === undefined) issues.add(join(bop, 'base_interval'), 'is required');
    // Envoy: base_interval must be greater than zero (at least 1 ms).
    if (base < 1) issues.add(join(bop, 'base_interval'), 'must be at least 1ms');
    max = readDurationMs(bo, 'max_interval', bop, issues, base * 10);
    if (max < base) issues.add(join(bop, 'max_interval'), 'must be greater than or equal to base_interval');
  }
  let previousHosts = false;
  readList(canon, 'retry_host_predicate').forEach((p: Canon, i) => {
    const pp = join(join(path, 'retry_host_predicate'), i);
    onlyFields(p, pp, issues, ['name', 'typed_config']);
    const tc = readMessage(p, 'typed_config');
    const t = tc === undefined ? '' : typeName(String(tc['@type'] ?? ''));
    if (t === PREVIOUS_HOSTS_TYPE || (tc === undefined && readString(p, 'name') === 'envoy.retry_host_predicates.previous_hosts')) previousHosts = true;
    else issues.add(tc === undefined ? join(pp, 'name') : join(pp, 'typed_config'), `retry host predicate ${JSON.stringify(t || readString(p, 'name', ''))} ${NOT_SUPPORTED}`);
  });
  const codes = readList(canon, 'retriable_status_codes').map((c, i) => {
    const n = Number(c);
    if (!(n >= 100 && n < 600)) issues.add(join(join(path, 'retriable_status_codes'), i), 'must be an HTTP status code');
    return n;
  });
  return {
    retryOn,
    numRetries: readNumber(canon, 'num_retries', 1),
    perTryTimeoutMs: readDurationMs(canon, 'per_try_timeout', path, issues, 0),
    backOffBaseMs: base,
    backOffMaxMs: max,
    retriableStatusCodes: codes,
    retriableHeaders: readList(canon, 'retriable_headers').map((h, i) => decodeHeaderMatcher(h, join(join(path, 'retriable_headers'), i), issues)),
    previousHosts,
    hostSelectionMaxAttempts: readNumber(canon, 'host_selection_retry_max_attempts', 1),
  };
}
