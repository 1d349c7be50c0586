// Conversions between node:http2 header lists and the codec-neutral HeaderMap, shared by
// the downstream server codec and the upstream pool. The rules are HTTP/2's (RFC 9113
// §8.2): connection-specific fields do not exist in HTTP/2, `te` may only carry
// "trailers", and cookie crumbs are joined back into one field (§8.2.3) so that an
// HTTP/1.1 hop sees a single Cookie header, as Envoy does.
import { HeaderMap } from '../headers';

/** Fields that describe one hop of an HTTP/1.x connection (RFC 9113 §8.2.2); `host` lives on the head. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/**
 * Node rejects (ERR_HTTP2_HEADER_SINGLE_VALUE) an array for these names; a duplicate is
 * dropped rather than failing the whole response (the first value wins, as a
 * single-valued field is read by most recipients).
 */
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

export type H2HeaderObject = Record<string, string | string[] | number>;

/**
 * Raw header list ([name, value, name, value, ...], as node:http2 hands it over) → HeaderMap
 * without pseudo-headers and hop-by-hop fields. Returns `host` separately because HTTP/2
 * clients may send it instead of :authority (RFC 9113 §8.3.1).
 */
export function fromRawHeaders(raw: string[], out: HeaderMap): string | undefined {
  let host: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = raw[i + 1];
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : cookie + '; ' + value;
      continue;
    }
    if (HOP_BY_HOP.has(name)) {
      if (name === 'host' && host === undefined) host = value;
      continue;
    }
    out.add(name, value);
  }
  if (cookie !== undefined) out.add('cookie', cookie);
  return host;
}

/** Reads a pseudo-header from a raw list (they always come first, RFC 9113 §8.3). */
export function pseudo(raw: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    if (n === name) return raw[i + 1];
    if (n.charCodeAt(0) !== 58) return undefined;
  }
  return undefined;
}

/** Adds a HeaderMap to a node:http2 header object, leaving out what HTTP/2 forbids. */
export function toH2Headers(h: HeaderMap, out: H2HeaderObject): H2HeaderObject {
  const names = h.names;
  const values = h.values;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (HOP_BY_HOP.has(name)) continue;
    const value = values[i];
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (SINGLE_VALUE.has(name)) continue;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

/** Trailers: like toH2Headers, but pseudo-headers are never allowed (RFC 9113 §8.1). */
export function trailersToH2(h: HeaderMap): H2HeaderObject {
  const out = toH2Headers(h, {});
  for (const k of Object.keys(out)) if (k.charCodeAt(0) === 58) delete out[k];
  return out;
}
