// What a matched route does to the request before it is forwarded or answered:
// path rewrites (prefix_rewrite, regex_rewrite), host rewrites, redirect URLs and the
// weighted-cluster pick. All inputs are precompiled; these run once per request.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction
import type { RequestHead } from '../http/stream';
import { hostPortStart, pathEnd } from './match';
import type { ClusterSpecifier, RedirectAction, RouteAction, WeightedClusterEntry } from './types';

/**
 * Envoy swaps "the matched prefix (or path)" with prefix_rewrite: the prefix for prefix /
 * path_separated_prefix matches, the whole path (without query) for path and safe_regex
 * (matchedPrefixLen -1).
 */
function applyPathRewrite(a: RouteAction | RedirectAction, path: string): string | undefined {
  const end = pathEnd(path);
  if (a.prefixRewrite !== undefined) return a.prefixRewrite + path.slice(a.matchedPrefixLen < 0 ? end : a.matchedPrefixLen);
  const rr = a.regexRewrite;
  // regex_rewrite substitutes on the path only; the query string is kept as is.
  if (rr) return path.slice(0, end).replace(rr.regex, rr.substitution) + path.slice(end);
  return undefined;
}

/** The :path to forward after prefix_rewrite / regex_rewrite, or undefined when the route rewrites nothing. */
export function rewritePath(action: RouteAction, path: string): string | undefined {
  return applyPathRewrite(action, path);
}

/**
 * The :authority to forward, or undefined to keep it. Order of precedence: the picked
 * weighted cluster's host_rewrite_literal, then the route's host_rewrite_literal,
 * host_rewrite_header (only when that header is present), auto_host_rewrite (the
 * upstream host's hostname, which the caller passes once the host is chosen).
 */
export function rewriteHost(
  action: RouteAction, head: RequestHead, picked?: WeightedClusterEntry, upstreamHostname?: string,
): string | undefined {
  if (picked?.hostRewriteLiteral) return picked.hostRewriteLiteral;
  if (action.hostRewriteLiteral) return action.hostRewriteLiteral;
  if (action.hostRewriteHeader) {
    const v = head.headers.get(action.hostRewriteHeader);
    return v ? v : undefined;
  }
  if (action.autoHostRewrite && upstreamHostname) return upstreamHostname;
  return undefined;
}

/**
 * The Location of a redirect route, following Envoy's RedirectAction fields: scheme
 * (https_redirect / scheme_redirect), host_redirect, port_redirect, then the path
 * (path_redirect, prefix_rewrite or regex_rewrite), strip_query. When the scheme changes,
 * the request's port is dropped if it was the default of the original scheme
 * (http://a:80 → https://a), so the new scheme's default port applies.
 */
export function redirectLocation(rd: RedirectAction, head: RequestHead): string {
  const origScheme = head.headers.get('x-forwarded-proto') ?? head.scheme;
  const scheme = rd.scheme ?? origScheme;
  let host: string;
  if (rd.host !== undefined) host = rd.host;
  else {
    host = head.authority;
    const ps = hostPortStart(host);
    if (ps !== -1) {
      const port = host.slice(ps + 1);
      const dropDefault = scheme !== origScheme && ((origScheme === 'https' && port === '443') || (origScheme === 'http' && port === '80'));
      if (dropDefault || rd.port !== undefined) host = host.slice(0, ps);
    }
  }
  if (rd.port !== undefined) {
    const ps = hostPortStart(host);
    host = (ps === -1 ? host : host.slice(0, ps)) + ':' + rd.port;
  }
  const orig = head.path;
  const end = pathEnd(orig);
  const qStart = orig.charCodeAt(end) === 63 /* ? */ ? end : orig.length;
  let path: string;
  if (rd.path !== undefined) {
    // "query string in path_redirect will override the request's query string and will
    // not be stripped"
    path = rd.path.includes('?') ? rd.path : rd.path + (rd.stripQuery ? '' : orig.slice(qStart));
  } else {
    const p = applyPathRewrite(rd, orig) ?? orig;
    if (rd.stripQuery) {
      const e = pathEnd(p);
      path = p.slice(0, e);
    } else path = p;
  }
  return scheme + '://' + host + path;
}

/**
 * Envoy's weighted pick: a random value modulo total_weight lands in the cumulative
 * weight of one cluster, in config order (a weight of 0 is never picked). `random` is a
 * float in [0, 1) (Math.random() on the request path; tests pass a seeded sequence).
 */
export function pickWeightedCluster(ws: Extract<ClusterSpecifier, { t: 'weighted' }>, random: number): WeightedClusterEntry {
  const list = ws.weightedClusters;
  const x = Math.floor(random * ws.totalWeight);
  let acc = 0;
  for (let i = 0; i < list.length; i++) {
    acc += list[i].weight;
    if (x < acc) return list[i];
  }
  return list[list.length - 1];
}
