// Domain types for a decoded envoy.config.route.v3.RouteConfiguration (design
// convention 1: the raw proto stops at src/routing/decode.ts). Everything the request
// path needs is precomputed here at config time: lower-cased names, compiled regexes,
// classified domains, the virtual-host lookup index, and the header-mutation chains in
// the order Envoy applies them. Route tables are immutable once built (convention 3).
//
// Envoy references:
//   https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route.proto
//   https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto
import type { HashPolicy } from './hash_policy';
import type { RetryPolicy } from './retry_policy';
import type { RoutingPriority } from '../upstream/circuit_breakers';
import type { Canon } from '../xds/proto/canonical';

// ---------------------------------------------------------------- header mutations

/** config.core.v3.HeaderValueOption.HeaderAppendAction. */
export type AppendAction =
  | 'APPEND_IF_EXISTS_OR_ADD'
  | 'ADD_IF_ABSENT'
  | 'OVERWRITE_IF_EXISTS_OR_ADD'
  | 'OVERWRITE_IF_EXISTS';

/**
 * One command of Envoy's header value substitution format, e.g. %REQ(x-foo)%.
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
 */
export type FormatCommand =
  | { t: 'DOWNSTREAM_REMOTE_ADDRESS' }
  | { t: 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT' }
  | { t: 'DOWNSTREAM_LOCAL_ADDRESS' }
  | { t: 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT' }
  | { t: 'UPSTREAM_REMOTE_ADDRESS' }
  | { t: 'PROTOCOL' }
  | { t: 'HOSTNAME' }
  | { t: 'START_TIME'; format?: string }
  /** %REQ(name?alt):max% / %RESP(...)% — names lower-cased; pseudo-headers read from the head. */
  | { t: 'REQ' | 'RESP'; name: string; alt?: string; maxLen?: number };

/** A header value split at config time into literal strings and commands. */
export interface HeaderValueFormat {
  /** The whole value when it has no commands (the common case: no per-request work). */
  literal?: string;
  parts: (string | FormatCommand)[];
}

export interface HeaderValueOption {
  /** Lower-cased header name. */
  key: string;
  value: HeaderValueFormat;
  appendAction: AppendAction;
  /** When false (default) a value that evaluates to '' is not added. */
  keepEmptyValue: boolean;
}

/** The four header-mutation lists every level (route config, vhost, route, weighted cluster) has. */
export interface HeaderMutations {
  requestHeadersToAdd: HeaderValueOption[];
  /** Lower-cased names. */
  requestHeadersToRemove: string[];
  responseHeadersToAdd: HeaderValueOption[];
  responseHeadersToRemove: string[];
}

// ---------------------------------------------------------------- matchers

/** type.matcher.v3.StringMatcher, compiled. `value` is lower-cased when ignoreCase. */
export type StringMatch =
  | { t: 'exact' | 'prefix' | 'suffix' | 'contains'; value: string; ignoreCase: boolean }
  | { t: 'regex'; re: RegExp; source: string };

/** config.route.v3.HeaderMatcher (legacy *_match fields are folded into `match`). */
export interface HeaderMatcher {
  /** Lower-cased; ':method', ':path', ':authority', ':scheme' and 'host' read the head. */
  name: string;
  match:
    | { t: 'string'; sm: StringMatch }
    | { t: 'present'; present: boolean }
    | { t: 'range'; start: number; end: number }
    /** No specifier at all: the header only has to be present. */
    | { t: 'any' };
  invert: boolean;
  treatMissingAsEmpty: boolean;
}

export interface QueryParameterMatcher {
  name: string;
  /** undefined = present_match (or no specifier): the parameter only has to be present. */
  sm?: StringMatch;
  /** present_match: false never matches (Envoy checks presence before present_match). */
  presentMatch?: boolean;
}

/** The path_specifier oneof of RouteMatch. Values are lower-cased when !caseSensitive. */
export type PathMatch =
  | { t: 'prefix'; value: string }
  | { t: 'path'; value: string }
  | { t: 'path_separated_prefix'; value: string }
  | { t: 'regex'; re: RegExp; source: string };

export interface RouteMatch {
  path: PathMatch;
  /** RouteMatch.case_sensitive, default true; does not apply to safe_regex. */
  caseSensitive: boolean;
  headers: HeaderMatcher[];
  queryParameters: QueryParameterMatcher[];
  /** RouteMatch.grpc: only requests with a gRPC content-type match. */
  grpc: boolean;
}

// ---------------------------------------------------------------- actions

export interface WeightedClusterEntry extends HeaderMutations {
  name: string;
  weight: number;
  hostRewriteLiteral?: string;
  /** Request mutations in application order when this cluster is picked (this level first). */
  requestChain: HeaderMutations[];
  responseChain: HeaderMutations[];
}

export type ClusterSpecifier =
  | { t: 'cluster'; cluster: string }
  | { t: 'weighted'; weightedClusters: WeightedClusterEntry[]; totalWeight: number }
  | { t: 'header'; clusterHeader: string };

/** type.matcher.v3.RegexMatchAndSubstitute, compiled for String.prototype.replace. */
export interface RegexRewrite {
  /** Global (not anchored): every match in the path is substituted, like RE2::GlobalReplace. */
  regex: RegExp;
  /** Replacer for String.prototype.replace, built from RE2's substitution (\0..\9, \\). */
  substitution: (match: string, ...groups: any[]) => string;
  source: string;
}

export interface RouteAction {
  t: 'route';
  clusterSpecifier: ClusterSpecifier;
  /** cluster_not_found_response_code: 503 (default) or 404 / 500. */
  clusterNotFoundStatus: number;
  prefixRewrite?: string;
  regexRewrite?: RegexRewrite;
  /**
   * Characters of the path "matched" by the route, which prefix_rewrite replaces: the
   * prefix length for prefix / path_separated_prefix, -1 (the whole path) for path and
   * safe_regex. Copied from the route's match at config time.
   */
  matchedPrefixLen: number;
  hostRewriteLiteral?: string;
  autoHostRewrite: boolean;
  hostRewriteHeader?: string;
  /** Route timeout; default 15000, 0 = disabled. */
  timeoutMs: number;
  /** undefined = the connection manager's stream_idle_timeout applies; 0 = disabled. */
  idleTimeoutMs?: number;
  /** hash_policy, decoded: the request hash for RING_HASH / MAGLEV clusters (empty = none). */
  hashPolicy: HashPolicy[];
  /** retry_policy: the route's, else its virtual host's (set by decodeRouteConfiguration). */
  retryPolicy?: RetryPolicy;
  /** max_stream_duration.max_stream_duration: undefined = the connection manager's applies; 0 = none. */
  maxStreamDurationMs?: number;
  /** max_stream_duration.grpc_timeout_header_max: when set, a gRPC request's grpc-timeout sets the stream's duration (0 = uncapped). */
  grpcTimeoutHeaderMaxMs?: number;
  grpcTimeoutHeaderOffsetMs: number;
  /** Deprecated max_grpc_timeout: when set, a gRPC request's grpc-timeout is the route timeout (0 = uncapped). */
  maxGrpcTimeoutMs?: number;
  grpcTimeoutOffsetMs: number;
  /** priority: whose circuit breakers apply. */
  priority: RoutingPriority;
  /** upgrade_configs: per-route enable/disable, e.g. websocket. */
  upgradeConfigs: { upgradeType: string; enabled: boolean }[];
}

export interface DirectResponseAction {
  t: 'direct_response';
  status: number;
  body?: Buffer;
}

export type RedirectResponseCode = 301 | 302 | 303 | 307 | 308;

export interface RedirectAction {
  t: 'redirect';
  /** https_redirect → 'https'; scheme_redirect → lower-cased value; undefined = keep. */
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  regexRewrite?: RegexRewrite;
  /** As RouteAction.matchedPrefixLen. */
  matchedPrefixLen: number;
  responseCode: RedirectResponseCode;
  stripQuery: boolean;
}

export type Action = RouteAction | DirectResponseAction | RedirectAction;

// ---------------------------------------------------------------- tables

export interface Route extends HeaderMutations {
  name: string;
  match: RouteMatch;
  action: Action;
  /** Request mutations in application order (route, vhost, route config by default). */
  requestChain: HeaderMutations[];
  responseChain: HeaderMutations[];
  /** decorator / metadata are kept for tracing and config_dump. */
  decorator?: Canon;
  raw: Canon;
}

/** VirtualHost.domains entry, classified at config time. Values are lower-cased. */
export type DomainPattern =
  | { t: 'exact'; host: string }
  /** '*.foo.com' → suffix '.foo.com' (the wildcard matches at least one character). */
  | { t: 'suffix'; suffix: string }
  /** 'foo.*' → prefix 'foo.'. */
  | { t: 'prefix'; prefix: string }
  | { t: 'any' };

export interface VirtualHost extends HeaderMutations {
  name: string;
  domains: DomainPattern[];
  routes: Route[];
  retryPolicy?: RetryPolicy;
  /** include_request_attempt_count: x-envoy-attempt-count on upstream requests. */
  includeRequestAttemptCount: boolean;
  /** include_attempt_count_in_response: x-envoy-attempt-count on responses. */
  includeAttemptCountInResponse: boolean;
  /** True when any route needs the query string parsed (skip parsing otherwise). */
  needsQuery: boolean;
  raw: Canon;
}

/**
 * Virtual-host lookup precomputed at build time (Envoy's domain search order:
 * exact, longest suffix wildcard, longest prefix wildcard, '*').
 */
export interface VhostIndex {
  exact: Map<string, VirtualHost>;
  /** Suffix lengths, longest first, each with its map suffix → vhost. */
  suffixes: { len: number; map: Map<string, VirtualHost> }[];
  prefixes: { len: number; map: Map<string, VirtualHost> }[];
  any?: VirtualHost;
  /**
   * The last authority looked up and its answer (selectVirtualHost): clients repeat the same
   * Host on every request, and the lookup lower-cases and hashes a new string each time.
   */
  lastAuthority: string | null;
  lastVhost: VirtualHost | undefined;
}

export interface RouteTable extends HeaderMutations {
  name: string;
  virtualHosts: VirtualHost[];
  index: VhostIndex;
  /** RouteConfiguration.ignore_port_in_host_matching. */
  ignorePortInHostMatching: boolean;
  mostSpecificHeaderMutationsWins: boolean;
  /** validate_clusters (undefined = Envoy's default: true for a static route_config, false for RDS). */
  validateClusters?: boolean;
  raw: Canon;
}
