// Decoder for envoy.extensions.filters.http.router.v3.Router, the terminal HTTP filter.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/router/v3/router.proto
import type { ConfigIssues } from '../../../config/issues';
import type { Canon } from '../../../xds/proto/canonical';
import { onlyFields, readBool } from '../../../xds/resources/fields';
import { registerExtension } from '../../registry';

export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const ROUTER_NAME = 'envoy.filters.http.router';

export interface RouterConfig {
  /** Do not add x-envoy-* headers (x-envoy-upstream-service-time etc.) to responses. */
  suppressEnvoyHeaders: boolean;
  /** Create a child span per upstream request (for the tracing issue). */
  startChildSpan: boolean;
}

export function decodeRouter(canon: Canon, path: string, issues: ConfigIssues): RouterConfig {
  // dynamic_stats, upstream_log(_options), strict_check_headers, respect_expected_rq_timeout,
  // suppress_grpc_request_failure_code_stats and upstream_http_filters are not implemented.
  onlyFields(canon, path, issues, ['suppress_envoy_headers', 'start_child_span']);
  return {
    suppressEnvoyHeaders: readBool(canon, 'suppress_envoy_headers', false),
    startChildSpan: readBool(canon, 'start_child_span', false),
  };
}

registerExtension('http', { typeUrl: ROUTER_TYPE_URL, wellKnownName: ROUTER_NAME, decode: decodeRouter });
