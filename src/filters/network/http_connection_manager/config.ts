// Decoder for envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.
// Defaults follow Envoy's docs:
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
// Every field Switchyard does not act on is rejected by name (onlyFields), never ignored.
import { ConfigIssues, join } from '../../../config/issues';
import { decodeRouteConfiguration } from '../../../routing/decode';
import type { RouteTable } from '../../../routing/types';
import { type Canon, typeName } from '../../../xds/proto/canonical';
import { decodeConfigSource } from '../../../xds/resources/config_source';
import type { PathSourceSpec } from '../../../config/types';
import { decodeTypedConfig } from '../../../xds/resources/extension';
import {
  NOT_SUPPORTED, onlyFields, readBool, readDurationMs, readEnum, readList, readMessage, readNumber, readString, rejectField, rejectFieldYet, requireField,
} from '../../../xds/resources/fields';
import { ROUTER_NAME, ROUTER_TYPE_URL } from '../../http/router/config';
import { registerExtension } from '../../registry';

export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export interface HttpFilterConfig {
  name: string;
  typeUrl: string;
  /** The filter's decoded config (RouterConfig, ...). */
  config: unknown;
  isOptional: boolean;
}

export type ForwardClientCertDetails = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
export type PathWithEscapedSlashesAction =
  | 'IMPLEMENTATION_SPECIFIC_DEFAULT' | 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

export interface HcmConfig {
  statPrefix: string;
  codecType: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** The inline route_config; undefined when routes come over RDS. */
  routeTable?: RouteTable;
  /** rds: the RouteConfiguration to watch, over ADS (config_source `ads: {}`) or from a file (`path`). */
  rds?: { routeConfigName: string; path?: PathSourceSpec };
  /** In order; the last is always the router. Optional filters Switchyard lacks are left out. */
  httpFilters: HttpFilterConfig[];
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  skipXffAppend: boolean;
  /** Value for the Via header; undefined = do not add one. */
  via?: string;
  serverName: string;
  serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  alwaysSetRequestIdInResponse: boolean;
  streamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  requestHeadersTimeoutMs: number;
  maxRequestHeadersKb: number;
  /** common_http_protocol_options */
  idleTimeoutMs: number;
  maxConnectionDurationMs: number;
  maxStreamDurationMs: number;
  maxHeadersCount: number;
  maxRequestsPerConnection: number;
  headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  /** http_protocol_options (HTTP/1.1) */
  http1: { acceptHttp10: boolean; defaultHostForHttp10?: string; allowAbsoluteUrl: boolean; enableTrailers: boolean };
  /** Raw for the HTTP/2 codec. */
  http2ProtocolOptions?: Canon;
  /** Raw for the access-log issue. */
  accessLog: Canon[];
  drainTimeoutMs: number;
  delayedCloseTimeoutMs: number;
  upgradeConfigs: { upgradeType: string; enabled: boolean }[];
  forwardClientCertDetails: ForwardClientCertDetails;
  setCurrentClientCertDetails: { subject: boolean; cert: boolean; chain: boolean; dns: boolean; uri: boolean };
  proxy100Continue: boolean;
  normalizePath: boolean;
  mergeSlashes: boolean;
  pathWithEscapedSlashesAction: PathWithEscapedSlashesAction;
  /** strip_any_host_port / strip_matching_host_port (port equal to the listener's). */
  stripPortMode: 'none' | 'any' | 'matching';
  stripTrailingHostDot: boolean;
  appendXForwardedPort: boolean;
}

const SUPPORTED = [
  'codec_type', 'stat_prefix', 'route_config', 'http_filters', 'common_http_protocol_options', 'http_protocol_options',
  'http2_protocol_options', 'server_name', 'server_header_transformation', 'max_request_headers_kb',
  'stream_idle_timeout', 'request_timeout', 'request_headers_timeout', 'drain_timeout', 'delayed_close_timeout',
  'access_log', 'use_remote_address', 'xff_num_trusted_hops', 'skip_xff_append', 'via', 'generate_request_id',
  'preserve_external_request_id', 'always_set_request_id_in_response', 'forward_client_cert_details',
  'set_current_client_cert_details', 'proxy_100_continue', 'upgrade_configs', 'normalize_path', 'merge_slashes',
  'path_with_escaped_slashes_action', 'strip_matching_host_port', 'strip_any_host_port', 'strip_trailing_host_dot',
  'append_x_forwarded_port', 'rds',
] as const;

function decodeHttpFilters(list: Canon[], path: string, issues: ConfigIssues): HttpFilterConfig[] {
  const out: HttpFilterConfig[] = [];
  list.forEach((f, i) => {
    const p = join(path, i);
    // disabled (enabled per route) and config_discovery (ECDS) are not implemented.
    onlyFields(f, p, issues, ['name', 'typed_config', 'is_optional']);
    requireField(f, 'name', p, issues);
    const isOptional = readBool(f, 'is_optional', false);
    const name = readString(f, 'name', '');
    const d = decodeTypedConfig('http', readMessage(f, 'typed_config'), join(p, 'typed_config'), issues, { optional: isOptional, name });
    if (d) out.push({ name, typeUrl: d.typeUrl, config: d.config, isOptional });
  });
  const isRouter = (f: HttpFilterConfig) => typeName(f.typeUrl) === typeName(ROUTER_TYPE_URL);
  // The router is terminal: it must be present, and last.
  out.forEach((f, i) => {
    if (isRouter(f) && i !== out.length - 1) issues.add(path, `${ROUTER_NAME} must be the last HTTP filter (found "${f.name}" before other filters)`);
  });
  if (out.length === 0 || !isRouter(out[out.length - 1])) issues.add(path, `the last HTTP filter must be ${ROUTER_NAME}`);
  return out;
}

function decodeCommonOptions(c: Canon | undefined, path: string, issues: ConfigIssues) {
  onlyFields(c, path, issues, [
    'idle_timeout', 'max_connection_duration', 'max_headers_count', 'max_stream_duration',
    'headers_with_underscores_action', 'max_requests_per_connection',
  ]);
  return {
    // "If not specified, this defaults to 1 hour" for downstream connections; 0 disables.
    idleTimeoutMs: readDurationMs(c, 'idle_timeout', path, issues, 3600_000),
    maxConnectionDurationMs: readDurationMs(c, 'max_connection_duration', path, issues, 0),
    maxStreamDurationMs: readDurationMs(c, 'max_stream_duration', path, issues, 0),
    maxHeadersCount: readNumber(c, 'max_headers_count', 100),
    maxRequestsPerConnection: readNumber(c, 'max_requests_per_connection', 0),
    headersWithUnderscoresAction: readEnum(c, 'headers_with_underscores_action', path, issues, 'ALLOW', [
      'ALLOW', 'REJECT_REQUEST', 'DROP_HEADER',
    ] as const),
  };
}

/**
 * Rds: the RouteConfiguration named route_config_name, fetched over the bootstrap's ADS
 * stream (config_source `ads: {}`) or read from a file (path_config_source).
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto#extensions-filters-network-http-connection-manager-v3-rds
 */
function decodeRds(rds: Canon, path: string, issues: ConfigIssues): HcmConfig['rds'] | undefined {
  onlyFields(rds, path, issues, ['config_source', 'route_config_name']);
  // config_source is required by the proto (PGV), which reports it when missing.
  const source = decodeConfigSource(readMessage(rds, 'config_source'), join(path, 'config_source'), issues);
  // Envoy requires the name for an ADS-fetched route (it is how the resource is requested).
  const routeConfigName = readString(rds, 'route_config_name', '');
  if (!routeConfigName) issues.add(join(path, 'route_config_name'), 'is required');
  if (!source || !routeConfigName) return undefined;
  return source.kind === 'path' ? { routeConfigName, path: source } : { routeConfigName };
}

export function decodeHcm(canon: Canon, path: string, issues: ConfigIssues): HcmConfig {
  onlyFields(canon, path, issues, SUPPORTED);
  if (!readString(canon, 'stat_prefix')) issues.add(join(path, 'stat_prefix'), 'is required');

  // route_specifier: exactly one of route_config (inline) and rds (over ADS); scoped_routes
  // is rejected by onlyFields above, so it only counts towards "one is set".
  const routeConfig = readMessage(canon, 'route_config');
  const rdsCanon = readMessage(canon, 'rds');
  if (!routeConfig && !rdsCanon && canon.scoped_routes === undefined) issues.add(join(path, 'route_config'), 'is required (or rds)');
  const routeTable = routeConfig ? decodeRouteConfiguration(routeConfig, join(path, 'route_config'), issues) : undefined;
  const rds = rdsCanon ? decodeRds(rdsCanon, join(path, 'rds'), issues) : undefined;
  const httpFilters = decodeHttpFilters(readList(canon, 'http_filters'), join(path, 'http_filters'), issues);
  const common = decodeCommonOptions(readMessage(canon, 'common_http_protocol_options'), join(path, 'common_http_protocol_options'), issues);

  const h1p = join(path, 'http_protocol_options');
  const h1 = readMessage(canon, 'http_protocol_options');
  onlyFields(h1, h1p, issues, ['accept_http_10', 'default_host_for_http_10', 'allow_absolute_url', 'enable_trailers']);

  const maxKb = readNumber(canon, 'max_request_headers_kb', 60);
  if (maxKb < 1 || maxKb > 8192) issues.add(join(path, 'max_request_headers_kb'), 'must be in [1, 8192]');

  const upgradeConfigs = readList(canon, 'upgrade_configs').map((u: Canon, i) => {
    const p = join(join(path, 'upgrade_configs'), i);
    // Per-upgrade filter chains (filters) are not implemented.
    onlyFields(u, p, issues, ['upgrade_type', 'enabled']);
    requireField(u, 'upgrade_type', p, issues);
    return { upgradeType: readString(u, 'upgrade_type', '').toLowerCase(), enabled: readBool(u, 'enabled', true) };
  });

  const sc = readMessage(canon, 'set_current_client_cert_details');
  onlyFields(sc, join(path, 'set_current_client_cert_details'), issues, ['subject', 'cert', 'chain', 'dns', 'uri']);

  // Access logging comes with the telemetry issue; proxying 100-continue is not implemented
  // (the connection manager answers it itself, Envoy's default).
  rejectFieldYet(canon, 'access_log', path, issues);
  if (canon.proxy_100_continue === true) issues.add(join(path, 'proxy_100_continue'), `true is ${NOT_SUPPORTED} yet`);
  if (canon.strip_any_host_port === true && canon.strip_matching_host_port === true) {
    issues.add(path, 'only one of strip_any_host_port, strip_matching_host_port may be set');
  }

  return {
    statPrefix: readString(canon, 'stat_prefix', ''),
    codecType: readEnum(canon, 'codec_type', path, issues, 'AUTO', ['AUTO', 'HTTP1', 'HTTP2'] as const),
    ...(routeTable ? { routeTable } : {}),
    ...(rds ? { rds } : {}),
    httpFilters,
    useRemoteAddress: readBool(canon, 'use_remote_address', false),
    xffNumTrustedHops: readNumber(canon, 'xff_num_trusted_hops', 0),
    skipXffAppend: readBool(canon, 'skip_xff_append', false),
    via: readString(canon, 'via') || undefined,
    // Envoy's default Server header value is "envoy".
    serverName: readString(canon, 'server_name') || 'envoy',
    serverHeaderTransformation: readEnum(canon, 'server_header_transformation', path, issues, 'OVERWRITE', [
      'OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH',
    ] as const),
    generateRequestId: readBool(canon, 'generate_request_id', true),
    preserveExternalRequestId: readBool(canon, 'preserve_external_request_id', false),
    alwaysSetRequestIdInResponse: readBool(canon, 'always_set_request_id_in_response', false),
    streamIdleTimeoutMs: readDurationMs(canon, 'stream_idle_timeout', path, issues, 300_000),
    requestTimeoutMs: readDurationMs(canon, 'request_timeout', path, issues, 0),
    requestHeadersTimeoutMs: readDurationMs(canon, 'request_headers_timeout', path, issues, 0),
    maxRequestHeadersKb: maxKb,
    ...common,
    http1: {
      acceptHttp10: readBool(h1, 'accept_http_10', false),
      defaultHostForHttp10: readString(h1, 'default_host_for_http_10') || undefined,
      allowAbsoluteUrl: readBool(h1, 'allow_absolute_url', true),
      enableTrailers: readBool(h1, 'enable_trailers', false),
    },
    http2ProtocolOptions: readMessage(canon, 'http2_protocol_options'),
    accessLog: readList(canon, 'access_log'),
    drainTimeoutMs: readDurationMs(canon, 'drain_timeout', path, issues, 5000),
    delayedCloseTimeoutMs: readDurationMs(canon, 'delayed_close_timeout', path, issues, 1000),
    upgradeConfigs,
    forwardClientCertDetails: readEnum(canon, 'forward_client_cert_details', path, issues, 'SANITIZE', [
      'SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY',
    ] as const),
    setCurrentClientCertDetails: {
      subject: readBool(sc, 'subject', false),
      cert: readBool(sc, 'cert', false),
      chain: readBool(sc, 'chain', false),
      dns: readBool(sc, 'dns', false),
      uri: readBool(sc, 'uri', false),
    },
    proxy100Continue: readBool(canon, 'proxy_100_continue', false),
    normalizePath: readBool(canon, 'normalize_path', false),
    mergeSlashes: readBool(canon, 'merge_slashes', false),
    pathWithEscapedSlashesAction: readEnum(canon, 'path_with_escaped_slashes_action', path, issues, 'IMPLEMENTATION_SPECIFIC_DEFAULT', [
      'IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD',
    ] as const),
    stripPortMode: canon.strip_any_host_port === true ? 'any' : canon.strip_matching_host_port === true ? 'matching' : 'none',
    stripTrailingHostDot: readBool(canon, 'strip_trailing_host_dot', false),
    appendXForwardedPort: readBool(canon, 'append_x_forwarded_port', false),
  };
}

registerExtension('network', {
  typeUrl: HCM_TYPE_URL,
  wellKnownName: 'envoy.filters.network.http_connection_manager',
  decode: decodeHcm,
});
