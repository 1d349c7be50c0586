// The timeouts a request runs under, as Envoy's router and connection manager derive them:
// the route timeout (FilterUtility::finalTimeout), the per-try timeout, and the stream's
// max_stream_duration (ActiveStream::refreshDurationTimeout), from the route, a gRPC
// request's grpc-timeout header and the trusted x-envoy-upstream-rq-*-ms headers.
// https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-upstream-rq-timeout-ms
import type { HeaderMap } from '../../../http/headers';
import { parseGrpcTimeout } from '../../../http/grpc';
import { isGrpcContentType } from '../../../routing/match';
import type { RouteAction } from '../../../routing/types';

export interface RouterTimeouts {
  /** Route (global) timeout, ms; 0 = none. */
  timeoutMs: number;
  /** per_try_timeout, ms; 0 = none. */
  perTryMs: number;
  /** max_stream_duration, ms; 0 = none. */
  durationMs: number;
  /** A value came from the request itself (not known when the route table was loaded). */
  perRequest: boolean;
}

// One result object, reused: the connection manager reads it right away (single-threaded).
const out: RouterTimeouts = { timeoutMs: 0, perTryMs: 0, durationMs: 0, perRequest: false };

/**
 * `trusted`: the request carries x-envoy-* headers from an internal client. The headers read
 * here are removed from the request. `hcmDurationMs` is the connection manager's
 * max_stream_duration, which the route's replaces.
 */
export function computeRouterTimeouts(a: RouteAction, h: HeaderMap, trusted: boolean, hcmDurationMs: number): RouterTimeouts {
  let timeout = a.timeoutMs;
  let perTry = a.retryPolicy?.perTryTimeoutMs ?? 0;
  let duration = hcmDurationMs;
  let perRequest = false;
  if (a.maxGrpcTimeoutMs !== undefined || a.grpcTimeoutHeaderMaxMs !== undefined || a.maxStreamDurationMs !== undefined) {
    const grpc = isGrpcContentType(h.get('content-type'));
    const gv = grpc ? h.get('grpc-timeout') : undefined;
    const grpcMs = gv === undefined ? undefined : parseGrpcTimeout(gv);
    // Deprecated max_grpc_timeout: the grpc-timeout header (less grpc_timeout_offset) is the
    // route timeout, capped at max_grpc_timeout (0 = uncapped); no header means the cap.
    if (grpc && a.maxGrpcTimeoutMs !== undefined) {
      let g = grpcMs ?? 0;
      const off = a.grpcTimeoutOffsetMs;
      if (off > 0 && off < g) g -= off;
      const max = a.maxGrpcTimeoutMs;
      if (max !== 0 && (g === 0 || g > max)) g = max;
      timeout = g;
      perRequest = true;
    }
    // max_stream_duration.grpc_timeout_header_max: a gRPC request's grpc-timeout, capped (0 =
    // uncapped) and less grpc_timeout_header_offset, is the stream's duration limit.
    if (grpcMs !== undefined && a.grpcTimeoutHeaderMaxMs !== undefined) {
      let d = grpcMs;
      const max = a.grpcTimeoutHeaderMaxMs;
      if (max !== 0 && (d === 0 || d > max)) d = max;
      const off = a.grpcTimeoutHeaderOffsetMs;
      if (d !== 0 && off > 0) d = off < d ? d - off : 1;
      duration = d;
      perRequest = true;
    } else if (a.maxStreamDurationMs !== undefined) duration = a.maxStreamDurationMs;
  }
  if (trusted) {
    const t = readMsHeader(h, 'x-envoy-upstream-rq-timeout-ms');
    if (t !== undefined) {
      timeout = t;
      perRequest = true;
    }
    const pt = readMsHeader(h, 'x-envoy-upstream-rq-per-try-timeout-ms');
    if (pt !== undefined) {
      perTry = pt;
      perRequest = true;
    }
  }
  // Envoy drops a per-try timeout that is not shorter than the global one.
  if (timeout !== 0 && perTry >= timeout) perTry = 0;
  out.timeoutMs = timeout;
  out.perTryMs = perTry;
  out.durationMs = duration;
  out.perRequest = perRequest;
  return out;
}

/** A trusted x-envoy-*-ms header as a number of ms (removed from the request); undefined when absent or malformed. */
function readMsHeader(h: HeaderMap, name: string): number | undefined {
  const v = h.get(name);
  if (v === undefined) return undefined;
  h.remove(name);
  const t = v.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}
