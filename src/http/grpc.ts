// gRPC over HTTP/2 details the connection manager needs: the grpc-timeout request header
// and local replies in gRPC form (trailers-only, grpc-status from the HTTP status as Envoy
// maps it).
// https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/local_reply

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout ("TimeoutValue TimeoutUnit", at most 8 digits) in ms, rounded up; undefined when malformed. */
export function parseGrpcTimeout(v: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(v.trim());
  if (m === null) return undefined;
  return Math.ceil(Number(m[1]) * UNIT_MS[m[2]]);
}

/** ms as a grpc-timeout value (at most 8 digits: milliseconds, else seconds, else hours). */
export function formatGrpcTimeout(ms: number): string {
  if (ms < 1e8) return ms + 'm';
  const s = Math.ceil(ms / 1000);
  return s < 1e8 ? s + 'S' : Math.min(99_999_999, Math.ceil(s / 3600)) + 'H';
}

/** Envoy's HTTP status → gRPC status for local replies to gRPC requests (Grpc::Utility::httpToGrpcStatus). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}

export const GRPC_DEADLINE_EXCEEDED = 4;

/** grpc-message is percent-encoded: everything outside printable ASCII, and '%'. */
export function encodeGrpcMessage(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}
