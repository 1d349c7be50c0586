// The one place where a failure becomes a response a client sees (design convention 7):
// each error has a stable code, Envoy's status and response flag (for access logs and
// stats), and the body text Envoy users will recognise.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#config-access-log-format-response-flags

export type LocalReplyCode =
  | 'no_route' // NR
  | 'no_cluster' // NC
  | 'no_healthy_upstream' // UH
  | 'connect_failure' // UF
  | 'upstream_reset' // UR
  | 'upstream_terminated' // UC
  | 'upstream_timeout' // UT
  | 'overflow' // UO
  | 'downstream_protocol_error' // DPE
  | 'stream_idle_timeout' // SI
  | 'request_timeout' // (downstream request_timeout) 408
  | 'upgrade_failed' // upgrade not configured
  | 'http10_rejected' // http_protocol_options.accept_http_10 is false
  | 'invalid_header_name' // headers_with_underscores_action: REJECT_REQUEST
  | 'escaped_slashes' // path_with_escaped_slashes_action: REJECT_REQUEST
  | 'max_stream_duration'; // common_http_protocol_options.max_stream_duration

interface ReplySpec {
  status: number;
  flag: string;
  body: string;
}

const SPECS: Record<LocalReplyCode, ReplySpec> = {
  no_route: { status: 404, flag: 'NR', body: '' },
  no_cluster: { status: 503, flag: 'NC', body: '' },
  no_healthy_upstream: { status: 503, flag: 'UH', body: 'no healthy upstream' },
  connect_failure: { status: 503, flag: 'UF', body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure' },
  upstream_reset: { status: 503, flag: 'UR', body: 'upstream connect error or disconnect/reset before headers. reset reason: remote reset' },
  upstream_terminated: { status: 503, flag: 'UC', body: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination' },
  upstream_timeout: { status: 504, flag: 'UT', body: 'upstream request timeout' },
  overflow: { status: 503, flag: 'UO', body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow' },
  downstream_protocol_error: { status: 400, flag: 'DPE', body: 'Bad Request' },
  stream_idle_timeout: { status: 408, flag: 'SI', body: 'stream timeout' },
  request_timeout: { status: 408, flag: '', body: 'request timeout' },
  upgrade_failed: { status: 403, flag: '', body: 'upgrade not allowed' },
  http10_rejected: { status: 426, flag: '', body: '' },
  invalid_header_name: { status: 400, flag: 'DPE', body: 'header name contains underscores' },
  escaped_slashes: { status: 400, flag: '', body: 'path contains escaped slashes' },
  max_stream_duration: { status: 408, flag: '', body: 'downstream duration timeout' },
};

export function localReplySpec(code: LocalReplyCode): ReplySpec {
  return SPECS[code];
}
