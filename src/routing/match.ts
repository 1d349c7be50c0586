// Request-path routing: pick the virtual host for an authority, then the first route
// whose match accepts the request. Everything is precompiled (./decode.ts); this file
// does no regex compilation and avoids building strings unless a matcher needs one
// (regex on the path, a header's joined values, a parsed query string).
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_routing
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/route_matching
import type { RequestHead } from '../http/stream';
import type { HeaderMatcher, Route, RouteTable, StringMatch, VhostIndex, VirtualHost } from './types';

// ---------------------------------------------------------------- virtual hosts

/** Groups domains by kind and wildcard length, longest first (Envoy's search order). */
export function buildVhostIndex(vhosts: readonly VirtualHost[]): VhostIndex {
  const idx: VhostIndex = { exact: new Map(), suffixes: [], prefixes: [], lastAuthority: null, lastVhost: undefined };
  const byLen = (list: VhostIndex['suffixes'], len: number) => {
    let e = list.find((x) => x.len === len);
    if (!e) list.push((e = { len, map: new Map() }));
    return e.map;
  };
  for (const vh of vhosts) {
    for (const d of vh.domains) {
      // First definition wins; duplicates are reported by the decoder.
      if (d.t === 'exact') { if (!idx.exact.has(d.host)) idx.exact.set(d.host, vh); }
      else if (d.t === 'suffix') { const m = byLen(idx.suffixes, d.suffix.length); if (!m.has(d.suffix)) m.set(d.suffix, vh); }
      else if (d.t === 'prefix') { const m = byLen(idx.prefixes, d.prefix.length); if (!m.has(d.prefix)) m.set(d.prefix, vh); }
      else idx.any ??= vh;
    }
  }
  idx.suffixes.sort((a, b) => b.len - a.len);
  idx.prefixes.sort((a, b) => b.len - a.len);
  return idx;
}

/**
 * Index of the ':' that starts the port in a Host value, or -1 ('[::1]:80' → 5,
 * '[::1]' → -1, a bare IPv6 literal → -1). The port must be all digits.
 */
export function hostPortStart(host: string): number {
  const i = host.lastIndexOf(':');
  if (i === -1 || i === host.length - 1) return -1;
  if (host.charCodeAt(0) === 91 /* [ */) {
    if (host.charCodeAt(i - 1) !== 93 /* ] */) return -1;
  } else if (host.indexOf(':') !== i) return -1;
  for (let j = i + 1; j < host.length; j++) {
    const c = host.charCodeAt(j);
    if (c < 48 || c > 57) return -1;
  }
  return i;
}

/** The host without its port (what HCM strip_any_host_port does to :authority). */
export function stripHostPort(host: string): string {
  const i = hostPortStart(host);
  return i === -1 ? host : host.slice(0, i);
}

/**
 * Envoy's virtual host selection: exact domain, then the longest suffix wildcard
 * ('*.foo.com', '*-bar.foo.com'), then the longest prefix wildcard ('foo.*'), then '*'.
 * Case-insensitive; a wildcard never matches the empty string. The port is part of the
 * host being matched (Envoy does not strip it: 'www.host.com:443' does not match domain
 * 'www.host.com') unless the route configuration sets ignore_port_in_host_matching; the
 * HCM's strip_any_host_port / strip_matching_host_port rewrite :authority before routing.
 * https://www.envoyproxy.io/docs/envoy/latest/faq/debugging/why_is_my_route_not_found
 */
export function selectVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  const idx = table.index;
  if (authority === idx.lastAuthority) return idx.lastVhost;
  const vh = lookupVirtualHost(table, authority);
  idx.lastAuthority = authority;
  idx.lastVhost = vh;
  return vh;
}

function lookupVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  const idx = table.index;
  let host = authority.toLowerCase();
  if (table.ignorePortInHostMatching) host = stripHostPort(host);
  const exact = idx.exact.get(host);
  if (exact) return exact;
  const n = host.length;
  for (const { len, map } of idx.suffixes) {
    if (len >= n) continue;
    const v = map.get(host.slice(n - len));
    if (v) return v;
  }
  for (const { len, map } of idx.prefixes) {
    if (len >= n) continue;
    const v = map.get(host.slice(0, len));
    if (v) return v;
  }
  return idx.any;
}

// ---------------------------------------------------------------- string matching

/** ASCII case-insensitive startsWith; `lower` is already lower-case (like absl::StartsWithIgnoreCase). */
function startsWithIC(s: string, lower: string, at = 0): boolean {
  if (at + lower.length > s.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

export function matchString(sm: StringMatch, v: string): boolean {
  switch (sm.t) {
    case 'exact':
      return sm.ignoreCase ? v.length === sm.value.length && startsWithIC(v, sm.value) : v === sm.value;
    case 'prefix':
      return sm.ignoreCase ? startsWithIC(v, sm.value) : v.startsWith(sm.value);
    case 'suffix':
      return sm.ignoreCase ? v.length >= sm.value.length && startsWithIC(v, sm.value, v.length - sm.value.length) : v.endsWith(sm.value);
    case 'contains':
      return sm.ignoreCase ? v.toLowerCase().includes(sm.value) : v.includes(sm.value);
    case 'regex':
      return sm.re.test(v);
  }
}

// ---------------------------------------------------------------- request matchers

/** A header as Envoy's matchers see it: all values joined with ','; pseudo-headers from the head. */
function headerValue(head: RequestHead, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* : */ || name === 'host') {
    switch (name) {
      case ':path': return head.path;
      case ':method': return head.method;
      case ':authority': case 'host': return head.authority;
      case ':scheme': return head.scheme;
    }
  }
  return head.headers.getJoined(name);
}

const INT = /^[+-]?\d+$/;

/**
 * HeaderMatcher semantics: a missing header fails every matcher except present_match:
 * false (and, inverted, present_match: true), unless treat_missing_header_as_empty makes
 * it ''. Otherwise the result of the matcher is XORed with invert_match.
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-headermatcher
 */
export function matchHeader(hm: HeaderMatcher, head: RequestHead): boolean {
  let v = headerValue(head, hm.name);
  const m = hm.match;
  if (v === undefined) {
    if (!hm.treatMissingAsEmpty) return m.t === 'present' && m.present === hm.invert;
    v = '';
  }
  let r: boolean;
  switch (m.t) {
    case 'any': r = true; break;
    case 'present': r = m.present; break;
    case 'string': r = matchString(m.sm, v); break;
    case 'range': {
      if (!INT.test(v)) { r = false; break; }
      const n = Number(v);
      r = n >= m.start && n < m.end;
      break;
    }
  }
  return r !== hm.invert;
}

/** gRPC requests carry content-type application/grpc or application/grpc+proto etc. */
export function isGrpcContentType(ct: string | undefined): boolean {
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  const c = ct.charCodeAt(16);
  return ct.length === 16 || c === 43 /* + */ || c === 59 /* ; */;
}

/** First value of each query parameter, percent-decoded (Envoy decodes before matching). */
export function parseQuery(path: string, start: number): Map<string, string> {
  const out = new Map<string, string>();
  let end = path.indexOf('#', start);
  if (end === -1) end = path.length;
  for (const kv of path.slice(start, end).split('&')) {
    if (!kv) continue;
    const eq = kv.indexOf('=');
    const k = decode(eq === -1 ? kv : kv.slice(0, eq));
    if (!out.has(k)) out.set(k, eq === -1 ? '' : decode(kv.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  if (s.indexOf('%') === -1) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** End of the path part of :path (before '?' or '#'). */
export function pathEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

/**
 * The first route of `vhost` whose match accepts `head` (routes are checked in order,
 * "the first route that matches is used"). The path matchers see :path without its query
 * string and fragment; the query is parsed at most once, and only when a route has
 * query_parameters.
 */
export function matchRoute(vhost: VirtualHost, head: RequestHead): Route | undefined {
  const path = head.path;
  const end = pathEnd(path);
  let pathOnly: string | undefined;
  let query: Map<string, string> | undefined;
  const routes = vhost.routes;
  for (let r = 0; r < routes.length; r++) {
    const route = routes[r];
    const m = route.match;
    const pm = m.path;
    switch (pm.t) {
      case 'prefix':
        if (pm.value.length > end || !(m.caseSensitive ? path.startsWith(pm.value) : startsWithIC(path, pm.value))) continue;
        break;
      case 'path':
        if (pm.value.length !== end || !(m.caseSensitive ? path.startsWith(pm.value) : startsWithIC(path, pm.value))) continue;
        break;
      case 'path_separated_prefix': {
        const n = pm.value.length;
        if (n > end || !(m.caseSensitive ? path.startsWith(pm.value) : startsWithIC(path, pm.value))) continue;
        if (n !== end && path.charCodeAt(n) !== 47 /* / */) continue;
        break;
      }
      case 'regex':
        pathOnly ??= end === path.length ? path : path.slice(0, end);
        if (!pm.re.test(pathOnly)) continue;
        break;
    }
    if (m.grpc && !isGrpcContentType(head.headers.get('content-type'))) continue;
    let ok = true;
    for (let i = 0; ok && i < m.headers.length; i++) ok = matchHeader(m.headers[i], head);
    if (!ok) continue;
    const qps = m.queryParameters;
    if (qps.length > 0) {
      query ??= end < path.length && path.charCodeAt(end) === 63 ? parseQuery(path, end + 1) : new Map();
      for (let i = 0; ok && i < qps.length; i++) {
        const q = qps[i];
        const v = query.get(q.name);
        // Envoy: an absent parameter never matches; present_match: false never matches either.
        ok = v !== undefined && (q.presentMatch !== undefined ? q.presentMatch : q.sm === undefined || matchString(q.sm, v));
      }
      if (!ok) continue;
    }
    return route;
  }
  return undefined;
}
