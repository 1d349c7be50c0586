// Hash policies: how a request (route `hash_policy`) or a TCP connection (tcp_proxy
// `hash_policy`) becomes the 64-bit hash that RING_HASH and MAGLEV place. Each policy hashes
// its input with xxHash64; several combine in order as Envoy does —
// hash = rotl(hash, 1) ^ next — and a `terminal` policy that produced a hash ends the walk.
// No hash at all means the balancer picks at random.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#envoy-v3-api-msg-config-route-v3-routeaction-hashpolicy
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/v3/hash_policy.proto
import { ConfigIssues, join } from '../config/issues';
import type { RequestHead } from '../http/stream';
import type { LbContext } from '../upstream/lb/picker';
import { h64, hex16, xxh64String } from '../upstream/lb/xxhash64';
import type { Canon } from '../xds/proto/canonical';
import { onlyFields, readBool, readDurationMs, readList, readMessage, readString, requireField } from '../xds/resources/fields';
import { decodeRegexRewrite } from './decode_action';
import { headerName, oneOf } from './decode_match';
import type { RegexRewrite } from './types';

export type HashPolicy =
  | { t: 'header'; name: string; rewrite?: RegexRewrite; terminal: boolean }
  | { t: 'cookie'; name: string; ttlSeconds?: number; path: string; attributes: { name: string; value: string }[]; terminal: boolean }
  | { t: 'source_ip'; terminal: boolean }
  | { t: 'query_parameter'; name: string; terminal: boolean }
  | { t: 'filter_state'; key: string; terminal: boolean };

/** What a request's hash is computed from; the connection manager's stream implements it. */
export interface HashInput extends LbContext {
  readonly head: RequestHead;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Set-Cookie values to add to the response (generated cookies); null when none. */
  setCookies: string[] | null;
  /** The connection's filter state (envoy.filters.network.set_filter_state), if any. */
  readonly filterState: ReadonlyMap<string, string> | undefined;
}

const KINDS = ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state'];

/** RouteAction.HashPolicy list. */
export function decodeRouteHashPolicies(list: Canon[], path: string, issues: ConfigIssues): HashPolicy[] {
  const out: HashPolicy[] = [];
  list.forEach((c, i) => {
    const p = join(path, i);
    onlyFields(c, p, issues, [...KINDS, 'terminal']);
    const kind = oneOf(c, KINDS, p, issues, true);
    const terminal = readBool(c, 'terminal', false);
    const m = readMessage(c, kind ?? '') ?? {};
    const mp = join(p, kind ?? '');
    if (kind === 'header') {
      onlyFields(m, mp, issues, ['header_name', 'regex_rewrite']);
      if (!requireField(m, 'header_name', mp, issues)) return;
      const rr = readMessage(m, 'regex_rewrite');
      out.push({
        t: 'header',
        name: headerName(m.header_name, join(mp, 'header_name'), issues),
        rewrite: rr && decodeRegexRewrite(rr, join(mp, 'regex_rewrite'), issues),
        terminal,
      });
    } else if (kind === 'cookie') {
      onlyFields(m, mp, issues, ['name', 'ttl', 'path', 'attributes']);
      const name = readString(m, 'name', '');
      if (name === '') issues.add(join(mp, 'name'), 'must not be empty');
      const ttlMs = readDurationMs(m, 'ttl', mp, issues);
      const attributes = readList(m, 'attributes').map((a: Canon, j) => {
        const ap = join(join(mp, 'attributes'), j);
        onlyFields(a, ap, issues, ['name', 'value']);
        const an = readString(a, 'name', '');
        if (an === '' || /[;=\s]/.test(an)) issues.add(join(ap, 'name'), 'must be a non-empty token');
        return { name: an, value: readString(a, 'value', '') };
      });
      out.push({ t: 'cookie', name, ttlSeconds: ttlMs === undefined ? undefined : Math.floor(ttlMs / 1000), path: readString(m, 'path', ''), attributes, terminal });
    } else if (kind === 'connection_properties') {
      onlyFields(m, mp, issues, ['source_ip']);
      // source_ip: false hashes nothing (Envoy).
      if (readBool(m, 'source_ip', false)) out.push({ t: 'source_ip', terminal });
    } else if (kind === 'query_parameter') {
      onlyFields(m, mp, issues, ['name']);
      const name = readString(m, 'name', '');
      if (name === '') issues.add(join(mp, 'name'), 'must not be empty');
      out.push({ t: 'query_parameter', name, terminal });
    } else if (kind === 'filter_state') {
      onlyFields(m, mp, issues, ['key']);
      const key = readString(m, 'key', '');
      if (key === '') issues.add(join(mp, 'key'), 'must not be empty');
      out.push({ t: 'filter_state', key, terminal });
    }
  });
  return out;
}

/**
 * tcp_proxy's hash_policy (type.v3.HashPolicy): `source_ip`, or `filter_state`; Envoy allows
 * at most one policy.
 */
export function decodeTcpHashPolicies(list: Canon[], path: string, issues: ConfigIssues): HashPolicy[] {
  if (list.length > 1) issues.add(path, 'at most one hash policy is allowed (Envoy)');
  const out: HashPolicy[] = [];
  list.forEach((c, i) => {
    const p = join(path, i);
    onlyFields(c, p, issues, ['source_ip', 'filter_state']);
    const kind = oneOf(c, ['source_ip', 'filter_state'], p, issues, true);
    if (kind === 'source_ip') {
      onlyFields(readMessage(c, 'source_ip'), join(p, 'source_ip'), issues, []);
      out.push({ t: 'source_ip', terminal: false });
    } else if (kind === 'filter_state') {
      const m = readMessage(c, 'filter_state');
      onlyFields(m, join(p, 'filter_state'), issues, ['key']);
      out.push({ t: 'filter_state', key: readString(m, 'key', ''), terminal: false });
    }
  });
  return out;
}

// Accumulator for the combined hash (no allocation per request).
let accSet = false;
let accHi = 0;
let accLo = 0;

function combine(): void {
  if (!accSet) {
    accSet = true;
    accHi = h64.hi;
    accLo = h64.lo;
    return;
  }
  // rotate left by one, then xor the new hash in
  const rh = ((accHi << 1) | (accLo >>> 31)) >>> 0;
  const rl = ((accLo << 1) | (accHi >>> 31)) >>> 0;
  accHi = (rh ^ h64.hi) >>> 0;
  accLo = (rl ^ h64.lo) >>> 0;
}

/** Computes the request's hash into `s.hashSet` / `hashHi` / `hashLo`. */
export function computeRequestHash(policies: readonly HashPolicy[], s: HashInput): void {
  accSet = false;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i];
    switch (p.t) {
      case 'header':
        hashHeader(p, s.head);
        break;
      case 'cookie':
        hashCookie(p, s);
        break;
      case 'source_ip':
        if (s.remoteAddress !== '') {
          xxh64String(s.remoteAddress);
          combine();
        }
        break;
      case 'query_parameter':
        hashQuery(p.name, s.head.path);
        break;
      case 'filter_state':
        hashFilterState(p.key, s.filterState);
        break;
    }
    if (p.terminal && accSet) break;
  }
  s.hashSet = accSet;
  s.hashHi = accHi;
  s.hashLo = accLo;
}

/**
 * filter_state: the object under `key` hashes as Envoy's string accessor does (xxHash64 of
 * the string); an absent key gives no hash from this policy.
 */
function hashFilterState(key: string, state: ReadonlyMap<string, string> | undefined): void {
  const v = state?.get(key);
  if (v === undefined) return;
  xxh64String(v);
  combine();
}

/** tcp_proxy: the hash of a connection from its source address or its filter state. */
export function computeConnectionHash(
  policies: readonly HashPolicy[], remoteAddress: string | undefined, filterState: ReadonlyMap<string, string> | undefined, out: LbContext,
): void {
  accSet = false;
  for (const p of policies) {
    if (p.t === 'source_ip' && remoteAddress) {
      xxh64String(remoteAddress);
      combine();
    } else if (p.t === 'filter_state') {
      hashFilterState(p.key, filterState);
    }
  }
  out.hashSet = accSet;
  out.hashHi = accHi;
  out.hashLo = accLo;
}

function pseudo(name: string, head: RequestHead): string | undefined {
  switch (name) {
    case ':authority':
    case 'host':
      return head.authority;
    case ':path':
      return head.path;
    case ':method':
      return head.method;
    case ':scheme':
      return head.scheme;
  }
  return undefined;
}

const scratch: string[] = [];

/**
 * Envoy: every value of the header (after regex_rewrite), sorted so that value order does not
 * matter, chained through xxHash64 with the previous hash as the seed.
 */
function hashHeader(p: Extract<HashPolicy, { t: 'header' }>, head: RequestHead): void {
  const ps = pseudo(p.name, head);
  scratch.length = 0;
  if (ps !== undefined) scratch.push(ps);
  else {
    const names = head.headers.names;
    for (let i = 0; i < names.length; i++) if (names[i] === p.name) scratch.push(head.headers.values[i]);
  }
  if (scratch.length === 0) return;
  if (p.rewrite !== undefined) for (let i = 0; i < scratch.length; i++) scratch[i] = scratch[i].replace(p.rewrite.regex, p.rewrite.substitution);
  if (scratch.length > 1) scratch.sort();
  let sh = 0, sl = 0;
  for (let i = 0; i < scratch.length; i++) {
    xxh64String(scratch[i], sl, sh);
    sh = h64.hi;
    sl = h64.lo;
  }
  combine();
}

/** Envoy's Http::Utility::parseCookieValue: the first `name=value` of the Cookie headers, quotes stripped. */
export function cookieValue(head: RequestHead, name: string): string | undefined {
  const names = head.headers.names;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'cookie') continue;
    const v = head.headers.values[i];
    let start = 0;
    while (start < v.length) {
      let end = v.indexOf(';', start);
      if (end === -1) end = v.length;
      let s = start;
      while (s < end && v.charCodeAt(s) === 32) s++;
      const eq = v.indexOf('=', s);
      if (eq !== -1 && eq < end && eq - s === name.length && v.startsWith(name, s)) {
        let val = v.slice(eq + 1, end);
        if (val.length >= 2 && val[0] === '"' && val[val.length - 1] === '"') val = val.slice(1, -1);
        return val;
      }
      start = end + 1;
    }
  }
  return undefined;
}

function addressString(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Cookie: hash its value; when the request has none and `ttl` is set, generate one as Envoy's
 * router does — hex of xxHash64(remote address + local address), the same for every stream
 * of a connection — and set it on the response.
 */
function hashCookie(p: Extract<HashPolicy, { t: 'cookie' }>, s: HashInput): void {
  let v = cookieValue(s.head, p.name);
  if ((v === undefined || v === '') && p.ttlSeconds !== undefined) {
    if (s.remoteAddress === '' || s.localAddress === '') return;
    xxh64String(addressString(s.remoteAddress, s.remotePort) + addressString(s.localAddress, s.localPort));
    v = hex16(h64.hi, h64.lo);
    (s.setCookies ??= []).push(setCookieValue(p, v));
  }
  if (v === undefined || v === '') return;
  xxh64String(v);
  combine();
}

/** Envoy's makeSetCookieValue: name="value"; Max-Age=ttl; Path=path; attributes; HttpOnly. */
export function setCookieValue(p: Extract<HashPolicy, { t: 'cookie' }>, value: string): string {
  let c = `${p.name}="${value}"`;
  if (p.ttlSeconds) c += `; Max-Age=${p.ttlSeconds}`;
  if (p.path !== '') c += `; Path=${p.path}`;
  for (const a of p.attributes) c += a.value === '' ? `; ${a.name}` : `; ${a.name}=${a.value}`;
  return c + '; HttpOnly';
}

/** The first value of query parameter `name`, undecoded (Envoy's parseQueryString), hashed. */
function hashQuery(name: string, path: string): void {
  const q = path.indexOf('?');
  if (q === -1) return;
  let end = path.indexOf('#', q);
  if (end === -1) end = path.length;
  let start = q + 1;
  while (start < end) {
    let amp = path.indexOf('&', start);
    if (amp === -1 || amp > end) amp = end;
    const eq = path.indexOf('=', start);
    const nameEnd = eq !== -1 && eq < amp ? eq : amp;
    if (nameEnd - start === name.length && path.startsWith(name, start)) {
      xxh64String(nameEnd === amp ? '' : path.slice(eq + 1, amp));
      combine();
      return;
    }
    start = amp + 1;
  }
}
