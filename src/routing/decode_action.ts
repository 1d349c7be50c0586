// Decodes a Route's action: config.route.v3.RouteAction (with WeightedCluster),
// RedirectAction and DirectResponseAction, plus header mutations (HeaderValueOption),
// which every level of a route table shares.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction
import * as fs from 'node:fs';
import { ConfigIssues, join } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';
import {
  NOT_SUPPORTED, onlyFields, rejectField, rejectFieldYet, readBool, readDurationMs, readEnum, readList, readMessage, readNumber, readString, requireField,
} from '../xds/resources/fields';
import { decodeRegexMatcher, headerName, oneOf } from './decode_match';
import { parseHeaderFormat } from './header_format';
import { decodeRouteHashPolicies } from './hash_policy';
import { groupCount } from './re2';
import { decodeRetryPolicy } from './retry_policy';
import type { RoutingPriority } from '../upstream/circuit_breakers';
import type {
  AppendAction, ClusterSpecifier, DirectResponseAction, HeaderMutations, HeaderValueOption, RedirectAction,
  RedirectResponseCode, RegexRewrite, RouteAction, WeightedClusterEntry,
} from './types';

export const HEADER_MUTATION_FIELDS = [
  'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove',
] as const;

// Envoy refuses to let route tables modify pseudo-headers or Host ("':-prefixed' or 'host'
// headers may not be modified"); host rewrites go through the route action instead.
function modifiableName(v: unknown, path: string, issues: ConfigIssues): string {
  const name = headerName(v, path, issues);
  if (name && (name[0] === ':' || name === 'host')) {
    issues.add(path, `:-prefixed or host headers may not be modified`);
    return '';
  }
  return name;
}

/** config.core.v3.HeaderValueOption. */
function decodeHeaderValueOption(canon: Canon, path: string, issues: ConfigIssues): HeaderValueOption | undefined {
  onlyFields(canon, path, issues, ['header', 'append', 'append_action', 'keep_empty_value']);
  if (!requireField(canon, 'header', path, issues)) return undefined;
  const hp = join(path, 'header');
  const h = canon.header as Canon;
  onlyFields(h, hp, issues, ['key', 'value', 'raw_value']);
  const key = requireField(h, 'key', hp, issues) ? modifiableName(h.key, join(hp, 'key'), issues) : '';
  if (h.value !== undefined && h.raw_value !== undefined) issues.add(hp, 'only one of value, raw_value may be set');
  const raw = h.raw_value !== undefined ? Buffer.from(h.raw_value).toString('utf8') : readString(h, 'value', '');
  const value = parseHeaderFormat(raw);
  if (typeof value === 'string') issues.add(join(hp, 'value'), value);
  // The deprecated `append` (default true) maps onto append_action; both at once is an error.
  let appendAction: AppendAction = 'APPEND_IF_EXISTS_OR_ADD';
  if (canon.append !== undefined && canon.append_action !== undefined) {
    issues.add(path, 'only one of append, append_action may be set');
  } else if (canon.append !== undefined) {
    appendAction = canon.append === false ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD';
  } else {
    appendAction = readEnum(canon, 'append_action', path, issues, 'APPEND_IF_EXISTS_OR_ADD', [
      'APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS',
    ]);
  }
  if (!key || typeof value === 'string') return undefined;
  return { key, value, appendAction, keepEmptyValue: readBool(canon, 'keep_empty_value', false) };
}

/** The four *_headers_to_add/remove fields of any level (the caller lists them in onlyFields). */
export function decodeHeaderMutations(canon: Canon, path: string, issues: ConfigIssues): HeaderMutations {
  const adds = (f: string) =>
    readList(canon, f)
      .map((o, i) => decodeHeaderValueOption(o, join(join(path, f), i), issues))
      .filter((o): o is HeaderValueOption => o !== undefined);
  const removes = (f: string) =>
    readList(canon, f)
      .map((n, i) => modifiableName(n, join(join(path, f), i), issues))
      .filter((n) => n !== '');
  return {
    requestHeadersToAdd: adds('request_headers_to_add'),
    requestHeadersToRemove: removes('request_headers_to_remove'),
    responseHeadersToAdd: adds('response_headers_to_add'),
    responseHeadersToRemove: removes('response_headers_to_remove'),
  };
}

/**
 * type.matcher.v3.RegexMatchAndSubstitute. RE2's substitution refers to groups as \0..\9
 * and writes a backslash as \\; it is compiled into a replacer function once.
 */
export function decodeRegexRewrite(canon: Canon, path: string, issues: ConfigIssues): RegexRewrite | undefined {
  onlyFields(canon, path, issues, ['pattern', 'substitution']);
  if (!requireField(canon, 'pattern', path, issues)) return undefined;
  const regex = decodeRegexMatcher(canon.pattern, join(path, 'pattern'), issues, 'global');
  if (!regex) return undefined;
  const sub = readString(canon, 'substitution', '');
  const parts: (string | number)[] = [];
  let lit = '';
  const groups = groupCount(regex);
  for (let i = 0; i < sub.length; i++) {
    if (sub[i] !== '\\') {
      lit += sub[i];
      continue;
    }
    const c = sub[++i];
    if (c === '\\') lit += '\\';
    else if (c !== undefined && c >= '0' && c <= '9') {
      const g = c.charCodeAt(0) - 48;
      if (g > groups) issues.add(join(path, 'substitution'), `refers to group \\${g} but the pattern has ${groups} group(s)`);
      if (lit) parts.push(lit);
      lit = '';
      parts.push(g);
    } else issues.add(join(path, 'substitution'), `invalid escape \\${c ?? ''} (use \\0-\\9 or \\\\)`);
  }
  if (lit) parts.push(lit);
  const substitution = (match: string, ...args: unknown[]): string => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p === 0 ? match : ((args[p - 1] as string | undefined) ?? '');
    return s;
  };
  return { regex, substitution, source: String(canon.pattern?.regex ?? '') };
}

function decodeWeightedClusters(canon: Canon, path: string, issues: ConfigIssues): ClusterSpecifier {
  // runtime_key_prefix and header_name (random value from a header) are not implemented.
  onlyFields(canon, path, issues, ['clusters', 'total_weight']);
  const list = readList(canon, 'clusters');
  if (list.length === 0) issues.add(join(path, 'clusters'), 'must have at least one cluster');
  const entries: WeightedClusterEntry[] = list.map((c: Canon, i) => {
    const p = join(join(path, 'clusters'), i);
    onlyFields(c, p, issues, ['name', 'weight', 'host_rewrite_literal', ...HEADER_MUTATION_FIELDS]);
    requireField(c, 'name', p, issues);
    const m = decodeHeaderMutations(c, p, issues);
    return {
      name: readString(c, 'name', ''),
      weight: readNumber(c, 'weight', 0),
      hostRewriteLiteral: readString(c, 'host_rewrite_literal'),
      ...m,
      requestChain: [],
      responseChain: [],
    };
  });
  const sum = entries.reduce((s, e) => s + e.weight, 0);
  if (list.length > 0 && sum <= 0) issues.add(join(path, 'clusters'), 'sum of weights must be greater than 0');
  if (sum > 0xffffffff) issues.add(join(path, 'clusters'), 'sum of weights must not exceed 4294967295');
  const total = readNumber(canon, 'total_weight');
  if (total !== undefined && total !== sum) {
    issues.add(join(path, 'total_weight'), `sum of weights (${sum}) must equal total_weight (${total})`);
  }
  return { t: 'weighted', weightedClusters: entries, totalWeight: sum };
}

/**
 * RouteAction.max_stream_duration: the stream's duration limit on this route (overriding the
 * connection manager's), and how a gRPC request's grpc-timeout header sets it instead.
 */
function decodeMaxStreamDuration(canon: Canon | undefined, path: string, issues: ConfigIssues): Pick<RouteAction, 'maxStreamDurationMs' | 'grpcTimeoutHeaderMaxMs' | 'grpcTimeoutHeaderOffsetMs'> {
  if (canon === undefined) return { grpcTimeoutHeaderOffsetMs: 0 };
  onlyFields(canon, path, issues, ['max_stream_duration', 'grpc_timeout_header_max', 'grpc_timeout_header_offset']);
  return {
    maxStreamDurationMs: readDurationMs(canon, 'max_stream_duration', path, issues),
    grpcTimeoutHeaderMaxMs: readDurationMs(canon, 'grpc_timeout_header_max', path, issues),
    grpcTimeoutHeaderOffsetMs: readDurationMs(canon, 'grpc_timeout_header_offset', path, issues, 0),
  };
}

const NOT_FOUND_CODES = { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500 } as const;

export function decodeRouteAction(canon: Canon, path: string, issues: ConfigIssues): RouteAction {
  onlyFields(canon, path, issues, [
    'cluster', 'cluster_header', 'weighted_clusters', 'cluster_not_found_response_code', 'prefix_rewrite',
    'regex_rewrite', 'host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header', 'timeout', 'idle_timeout',
    'retry_policy', 'hash_policy', 'max_stream_duration', 'upgrade_configs', 'priority', 'max_grpc_timeout',
    'grpc_timeout_offset',
  ]);
  const kind = oneOf(canon, ['cluster', 'cluster_header', 'weighted_clusters', 'cluster_specifier_plugin', 'inline_cluster_specifier_plugin'], path, issues, true);
  let cs: ClusterSpecifier = { t: 'cluster', cluster: '' };
  if (kind === 'cluster') {
    cs = { t: 'cluster', cluster: readString(canon, 'cluster', '') };
    if (!cs.cluster) issues.add(join(path, 'cluster'), 'must not be empty');
  } else if (kind === 'cluster_header') {
    cs = { t: 'header', clusterHeader: headerName(canon.cluster_header, join(path, 'cluster_header'), issues) };
  } else if (kind === 'weighted_clusters') {
    cs = decodeWeightedClusters(canon.weighted_clusters, join(path, 'weighted_clusters'), issues);
  }
  oneOf(canon, ['prefix_rewrite', 'regex_rewrite'], path, issues, false);
  oneOf(canon, ['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header'], path, issues, false);
  const rr = readMessage(canon, 'regex_rewrite');
  const notFound = readEnum(canon, 'cluster_not_found_response_code', path, issues, 'SERVICE_UNAVAILABLE', [
    'SERVICE_UNAVAILABLE', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR',
  ]);
  const upgradeConfigs = readList(canon, 'upgrade_configs').map((u: Canon, i) => {
    const p = join(join(path, 'upgrade_configs'), i);
    onlyFields(u, p, issues, ['upgrade_type', 'enabled']);
    requireField(u, 'upgrade_type', p, issues);
    return { upgradeType: readString(u, 'upgrade_type', '').toLowerCase(), enabled: readBool(u, 'enabled', true) };
  });
  return {
    t: 'route',
    clusterSpecifier: cs,
    clusterNotFoundStatus: NOT_FOUND_CODES[notFound],
    prefixRewrite: readString(canon, 'prefix_rewrite'),
    regexRewrite: rr && decodeRegexRewrite(rr, join(path, 'regex_rewrite'), issues),
    matchedPrefixLen: -1, // set by decodeRoute
    hostRewriteLiteral: readString(canon, 'host_rewrite_literal'),
    autoHostRewrite: readBool(canon, 'auto_host_rewrite', false),
    hostRewriteHeader:
      canon.host_rewrite_header !== undefined ? headerName(canon.host_rewrite_header, join(path, 'host_rewrite_header'), issues) : undefined,
    // Envoy: "If not specified, the default is 15s"; 0 disables the timeout.
    timeoutMs: readDurationMs(canon, 'timeout', path, issues, 15000),
    idleTimeoutMs: readDurationMs(canon, 'idle_timeout', path, issues),
    hashPolicy: decodeRouteHashPolicies(readList(canon, 'hash_policy'), join(path, 'hash_policy'), issues),
    retryPolicy: decodeRetryPolicy(readMessage(canon, 'retry_policy'), join(path, 'retry_policy'), issues),
    ...decodeMaxStreamDuration(readMessage(canon, 'max_stream_duration'), join(path, 'max_stream_duration'), issues),
    maxGrpcTimeoutMs: readDurationMs(canon, 'max_grpc_timeout', path, issues),
    grpcTimeoutOffsetMs: readDurationMs(canon, 'grpc_timeout_offset', path, issues, 0),
    priority: readEnum<RoutingPriority>(canon, 'priority', path, issues, 'DEFAULT', ['DEFAULT', 'HIGH']),
    upgradeConfigs,
  };
}

const REDIRECT_CODES: Record<string, RedirectResponseCode> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};

export function decodeRedirectAction(canon: Canon, path: string, issues: ConfigIssues): RedirectAction {
  onlyFields(canon, path, issues, [
    'https_redirect', 'scheme_redirect', 'host_redirect', 'port_redirect', 'path_redirect', 'prefix_rewrite',
    'regex_rewrite', 'response_code', 'strip_query',
  ]);
  oneOf(canon, ['https_redirect', 'scheme_redirect'], path, issues, false);
  oneOf(canon, ['path_redirect', 'prefix_rewrite', 'regex_rewrite'], path, issues, false);
  const code = readEnum(canon, 'response_code', path, issues, 'MOVED_PERMANENTLY', Object.keys(REDIRECT_CODES));
  const port = readNumber(canon, 'port_redirect');
  if (port !== undefined && (port < 0 || port > 65535)) issues.add(join(path, 'port_redirect'), 'must be a port number');
  const rr = readMessage(canon, 'regex_rewrite');
  const scheme = canon.https_redirect === true ? 'https' : readString(canon, 'scheme_redirect')?.toLowerCase();
  return {
    t: 'redirect',
    scheme: scheme || undefined,
    host: readString(canon, 'host_redirect') || undefined,
    port: port || undefined,
    path: readString(canon, 'path_redirect'),
    prefixRewrite: readString(canon, 'prefix_rewrite'),
    regexRewrite: rr && decodeRegexRewrite(rr, join(path, 'regex_rewrite'), issues),
    matchedPrefixLen: -1, // set by decodeRoute
    responseCode: REDIRECT_CODES[code],
    stripQuery: readBool(canon, 'strip_query', false),
  };
}

/** DirectResponseAction; the body (a DataSource) is read once, at config time, like Envoy. */
export function decodeDirectResponse(canon: Canon, path: string, issues: ConfigIssues, maxBody: number): DirectResponseAction {
  onlyFields(canon, path, issues, ['status', 'body']);
  const status = readNumber(canon, 'status', 0);
  if (!(status >= 100 && status < 600)) issues.add(join(path, 'status'), 'must be in [100, 600)');
  const ds = readMessage(canon, 'body');
  let body: Buffer | undefined;
  if (ds) {
    const bp = join(path, 'body');
    onlyFields(ds, bp, issues, ['inline_string', 'inline_bytes', 'filename', 'environment_variable']);
    const kind = oneOf(ds, ['inline_string', 'inline_bytes', 'filename', 'environment_variable'], bp, issues, true);
    if (kind === 'inline_string') body = Buffer.from(String(ds.inline_string));
    else if (kind === 'inline_bytes') body = Buffer.from(ds.inline_bytes);
    else if (kind === 'filename') {
      try {
        body = fs.readFileSync(String(ds.filename));
      } catch (err) {
        issues.add(join(bp, 'filename'), `cannot read: ${(err as Error).message}`);
      }
    } else if (kind === 'environment_variable') {
      const v = process.env[String(ds.environment_variable)];
      if (v === undefined) issues.add(join(bp, 'environment_variable'), `${ds.environment_variable} is not set`);
      else body = Buffer.from(v);
    }
    if (body && body.length > maxBody) {
      issues.add(bp, `response body size is ${body.length} bytes; maximum is ${maxBody} (max_direct_response_body_size_bytes)`);
    }
  }
  return { t: 'direct_response', status, body };
}
