// Decodes envoy.config.route.v3.RouteConfiguration (canonical form) into a RouteTable,
// reporting every problem with its field path. The result is self-contained and
// immutable: the virtual-host index and the per-route header-mutation chains are
// computed here so the request path does no config work.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route.proto
import { ConfigIssues, join } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';
import { NOT_SUPPORTED, onlyFields, readBool, readEnum, readList, readMessage, readNumber, readString, rejectField, rejectFieldYet, requireField } from '../xds/resources/fields';
import {
  HEADER_MUTATION_FIELDS, decodeDirectResponse, decodeHeaderMutations, decodeRedirectAction, decodeRouteAction,
} from './decode_action';
import { decodeRouteMatch, oneOf } from './decode_match';
import { buildVhostIndex } from './match';
import { decodeRetryPolicy } from './retry_policy';
import type { Action, DomainPattern, HeaderMutations, Route, RouteTable, VirtualHost } from './types';

const DEFAULT_MAX_DIRECT_RESPONSE_BODY = 4096;

function decodeRoute(canon: Canon, path: string, issues: ConfigIssues, maxBody: number): Route {
  // typed_per_filter_config, tracing, per_request_buffer_limit_bytes, stat_prefix,
  // filter_action and non_forwarding_action are not implemented. decorator and metadata
  // change nothing in forwarding; they are kept for tracing and config_dump.
  onlyFields(canon, path, issues, ['name', 'match', 'route', 'redirect', 'direct_response', 'metadata', 'decorator', ...HEADER_MUTATION_FIELDS]);
  requireField(canon, 'match', path, issues);
  const match = decodeRouteMatch(readMessage(canon, 'match'), join(path, 'match'), issues);
  const kind = oneOf(canon, ['route', 'redirect', 'direct_response', 'filter_action', 'non_forwarding_action'], path, issues, true);
  let action: Action = { t: 'direct_response', status: 404 };
  if (kind === 'route') action = decodeRouteAction(canon.route, join(path, 'route'), issues);
  else if (kind === 'redirect') action = decodeRedirectAction(canon.redirect, join(path, 'redirect'), issues);
  else if (kind === 'direct_response') action = decodeDirectResponse(canon.direct_response, join(path, 'direct_response'), issues, maxBody);
  if (action.t !== 'direct_response') {
    // prefix_rewrite swaps "the matched prefix (or path)": the whole path for path and
    // safe_regex matches.
    const pm = match.path;
    action.matchedPrefixLen = pm.t === 'prefix' || pm.t === 'path_separated_prefix' ? pm.value.length : -1;
  }
  return {
    name: readString(canon, 'name', ''),
    match,
    action,
    ...decodeHeaderMutations(canon, path, issues),
    requestChain: [],
    responseChain: [],
    decorator: readMessage(canon, 'decorator'),
    raw: canon,
  };
}

/**
 * Classifies a VirtualHost.domains entry (lower-cased; matching is case-insensitive):
 * '*' any, '*suffix' suffix wildcard, 'prefix*' prefix wildcard, else exact.
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#envoy-v3-api-field-config-route-v3-virtualhost-domains
 */
export function classifyDomain(d: string): DomainPattern {
  const s = d.toLowerCase();
  if (s === '*') return { t: 'any' };
  if (s.startsWith('*')) return { t: 'suffix', suffix: s.slice(1) };
  if (s.endsWith('*')) return { t: 'prefix', prefix: s.slice(0, -1) };
  return { t: 'exact', host: s };
}

function decodeVirtualHost(canon: Canon, path: string, issues: ConfigIssues, maxBody: number): VirtualHost {
  // matcher, virtual_clusters, rate_limits, cors, typed_per_filter_config,
  // include_*_count, retry_policy_typed_config, hedge_policy, per_request_buffer_limit_bytes
  // and request_mirror_policies are not implemented.
  onlyFields(canon, path, issues, [
    'name', 'domains', 'routes', 'require_tls', 'retry_policy', 'metadata', 'include_request_attempt_count',
    'include_attempt_count_in_response', ...HEADER_MUTATION_FIELDS,
  ]);
  requireField(canon, 'name', path, issues);
  readEnum(canon, 'require_tls', path, issues, 'NONE', ['NONE']);
  const domainsRaw = readList(canon, 'domains');
  if (domainsRaw.length === 0) issues.add(join(path, 'domains'), 'must have at least one domain');
  const domains = domainsRaw.map((d, i) => {
    if (typeof d !== 'string' || d === '' || /[\x00-\x20\x7f]/.test(d)) {
      issues.add(join(join(path, 'domains'), i), `invalid domain ${JSON.stringify(d)}`);
    }
    return classifyDomain(String(d));
  });
  const routes = readList(canon, 'routes').map((r, i) => decodeRoute(r, join(join(path, 'routes'), i), issues, maxBody));
  // A route's retry_policy replaces its virtual host's (Envoy: the most specific one wins whole).
  const vhRetry = decodeRetryPolicy(readMessage(canon, 'retry_policy'), join(path, 'retry_policy'), new ConfigIssues());
  for (const r of routes) if (r.action.t === 'route' && r.action.retryPolicy === undefined) r.action.retryPolicy = vhRetry;
  return {
    name: readString(canon, 'name', ''),
    domains,
    routes,
    ...decodeHeaderMutations(canon, path, issues),
    retryPolicy: decodeRetryPolicy(readMessage(canon, 'retry_policy'), join(path, 'retry_policy'), issues),
    includeRequestAttemptCount: readBool(canon, 'include_request_attempt_count', false),
    includeAttemptCountInResponse: readBool(canon, 'include_attempt_count_in_response', false),
    needsQuery: routes.some((r) => r.match.queryParameters.length > 0),
    raw: canon,
  };
}

function isEmpty(m: HeaderMutations, dir: 'request' | 'response'): boolean {
  return dir === 'request'
    ? m.requestHeadersToAdd.length === 0 && m.requestHeadersToRemove.length === 0
    : m.responseHeadersToAdd.length === 0 && m.responseHeadersToRemove.length === 0;
}

/**
 * Envoy applies header mutations from the most specific level (weighted cluster, route)
 * to the least (virtual host, route configuration), so with OVERWRITE the route
 * configuration wins; most_specific_header_mutations_wins reverses the order.
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
 * Levels without mutations are left out so applying a chain touches only real work.
 */
function chain(levels: HeaderMutations[], mostSpecificWins: boolean, dir: 'request' | 'response'): HeaderMutations[] {
  const ordered = mostSpecificWins ? levels.slice().reverse() : levels;
  return ordered.filter((m) => !isEmpty(m, dir));
}

/** Decodes a RouteConfiguration; problems go to `issues` under `path`. */
export function decodeRouteConfiguration(canon: Canon, path: string, issues: ConfigIssues): RouteTable {
  // vhds, internal_only_headers, cluster_specifier_plugins, request_mirror_policies,
  // ignore_path_parameters_in_path_matching and typed_per_filter_config are not implemented.
  onlyFields(canon, path, issues, [
    'name', 'virtual_hosts', 'most_specific_header_mutations_wins', 'validate_clusters',
    'max_direct_response_body_size_bytes', 'ignore_port_in_host_matching', 'metadata', ...HEADER_MUTATION_FIELDS,
  ]);
  const maxBody = readNumber(canon, 'max_direct_response_body_size_bytes', DEFAULT_MAX_DIRECT_RESPONSE_BODY);
  const vhp = join(path, 'virtual_hosts');
  const virtualHosts = readList(canon, 'virtual_hosts').map((v, i) => decodeVirtualHost(v, join(vhp, i), issues, maxBody));

  // "A domain must be unique across all virtual hosts"; only one vhost may use '*'.
  const seen = new Map<string, string>();
  virtualHosts.forEach((vh, i) => {
    readList(canon.virtual_hosts[i], 'domains').forEach((d, j) => {
      const key = String(d).toLowerCase();
      const prev = seen.get(key);
      if (prev !== undefined) {
        issues.add(join(join(join(vhp, i), 'domains'), j), `duplicate domain ${JSON.stringify(d)} (also in virtual host "${prev}")`);
      } else seen.set(key, vh.name);
    });
  });
  const names = new Set<string>();
  virtualHosts.forEach((vh, i) => {
    if (names.has(vh.name)) issues.add(join(join(vhp, i), 'name'), `duplicate virtual host name "${vh.name}"`);
    names.add(vh.name);
  });

  const mostSpecificWins = readBool(canon, 'most_specific_header_mutations_wins', false);
  const table: RouteTable = {
    name: readString(canon, 'name', ''),
    virtualHosts,
    index: buildVhostIndex(virtualHosts),
    ignorePortInHostMatching: readBool(canon, 'ignore_port_in_host_matching', false),
    mostSpecificHeaderMutationsWins: mostSpecificWins,
    validateClusters: readBool(canon, 'validate_clusters'),
    ...decodeHeaderMutations(canon, path, issues),
    raw: canon,
  };
  for (const vh of virtualHosts) {
    for (const r of vh.routes) {
      r.requestChain = chain([r, vh, table], mostSpecificWins, 'request');
      r.responseChain = chain([r, vh, table], mostSpecificWins, 'response');
      if (r.action.t === 'route' && r.action.clusterSpecifier.t === 'weighted') {
        for (const wc of r.action.clusterSpecifier.weightedClusters) {
          wc.requestChain = chain([wc, r, vh, table], mostSpecificWins, 'request');
          wc.responseChain = chain([wc, r, vh, table], mostSpecificWins, 'response');
        }
      }
    }
  }
  return table;
}
