// HTTP/1.1 message-head parsing (RFC 9112), shared by the downstream and upstream codecs.
// Written for the proxy's hot path: one latin1 decode of the head, one pass over its
// lines, header names lower-cased once, hop-by-hop headers dropped here so that nothing
// downstream of the codec ever sees them (Envoy strips connection-specific headers too).
import { HeaderMap } from '../headers';
import { latin1Slice } from '../../util/latin1';

/** A token per RFC 9110 §5.6.2. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Connection-specific headers that never cross a proxy (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

export class ParseError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** What a head says about the connection and the body framing, gathered while parsing. */
export interface Framing {
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** `Connection: close` was sent. */
  close: boolean;
  /** `Connection: keep-alive` was sent (matters for HTTP/1.0). */
  keepAlive: boolean;
  /** The Upgrade header's value when `Connection: upgrade` was sent, else ''. */
  upgrade: string;
  /** `TE: trailers` was sent (kept for gRPC over HTTP/1.1 is not a thing, but we keep the signal). */
  teTrailers: boolean;
  /**
   * A request head's first Host value (undefined when it has none). Only with
   * newFraming(true): the Host lines are then kept out of the header map (the value becomes
   * the request's :authority), instead of being added and removed again.
   */
  host: string | undefined;
  readonly takeHost: boolean;
}

export function newFraming(request = false): Framing {
  return { contentLength: -1, chunked: false, close: false, keepAlive: false, upgrade: '', teTrailers: false, host: undefined, takeHost: request };
}

/**
 * Lower-cased header names by their spelling on the wire, validated once: the same few
 * dozen names recur in every message, so this saves a token check and an allocation per
 * header. Bounded, so a client sending random names cannot grow it.
 */
const NAME_CACHE = new Map<string, string>();
const NAME_CACHE_MAX = 2048;
/**
 * The first few spellings cached per name length, compared in place in the head (no slice
 * of the name, no hashing of a new string): the names every message repeats hit here.
 */
const SPELLINGS_PER_LENGTH = 4;
/** Longer names go through NAME_CACHE only (the tables stay small, dense arrays whatever clients send). */
const SPELLING_MAX_LENGTH = 64;
const RAW_BY_LENGTH: (string[] | undefined)[] = new Array(SPELLING_MAX_LENGTH + 1).fill(undefined);
const LOWER_BY_LENGTH: (string[] | undefined)[] = new Array(SPELLING_MAX_LENGTH + 1).fill(undefined);

function lowerName(raw: string): string {
  const hit = NAME_CACHE.get(raw);
  if (hit !== undefined) return hit;
  if (!isToken(raw)) throw new ParseError('invalid header name');
  const lower = raw.toLowerCase();
  if (NAME_CACHE.size < NAME_CACHE_MAX) {
    NAME_CACHE.set(raw, lower);
    const n = raw.length;
    if (n <= SPELLING_MAX_LENGTH) {
      const raws = (RAW_BY_LENGTH[n] ??= []);
      if (raws.length < SPELLINGS_PER_LENGTH) {
        raws.push(raw);
        (LOWER_BY_LENGTH[n] ??= []).push(lower);
      }
    }
  }
  return lower;
}

/** The lower-cased name of the header whose name is text[pos, colon). */
function nameAt(text: string, pos: number, colon: number): string {
  const n = colon - pos;
  const raws = n <= SPELLING_MAX_LENGTH ? RAW_BY_LENGTH[n] : undefined;
  if (raws !== undefined) {
    for (let i = 0; i < raws.length; i++) if (text.startsWith(raws[i], pos)) return LOWER_BY_LENGTH[n]![i];
  }
  return lowerName(text.slice(pos, colon));
}

/**
 * Parses header lines `lines[from..]` into `headers`, filling `fr`. Throws ParseError.
 * `connection` tokens naming other headers make those headers hop-by-hop as well. (For
 * trailers; a message head goes through parseHeaderBlock.)
 */
export function parseHeaderLines(lines: string[], from: number, headers: HeaderMap, fr: Framing): void {
  const text = lines.slice(from).join('\r\n');
  parseHeaderBlock(text, 0, headers, fr, Infinity);
}

/** OWS as String.prototype.trim saw it in a latin1 string: SP, HTAB, LF, VT, FF, CR, NBSP. */
function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/**
 * Parses the header lines of a message head, `text` from `pos` on (lines separated by
 * CRLF, no final CRLF), into `headers`, filling `fr`. Throws ParseError; more than
 * `maxCount` lines is a 431. Scans the head string in place: no array of lines, and one
 * slice per name and per value (this runs for every header of every message).
 */
export function parseHeaderBlock(text: string, pos: number, headers: HeaderMap, fr: Framing, maxCount: number): void {
  let connectionTokens: string[] | null = null;
  const len = text.length;
  const from = pos;
  // A line takes at least 4 characters with its CRLF: only a head that long can have too many.
  if ((len - pos + 2) / 4 > maxCount && countLines(text, pos) > maxCount) throw new ParseError('too many request headers', 431);
  // Header fields may not hold NUL, nor a CR or LF other than the CRLF ending each line
  // (RFC 9110 §5.5, RFC 9112 §2.2): one search for NUL in the block, and each line ends at
  // the next LF, which must follow the next CR.
  if (text.indexOf('\0', pos) !== -1) throw new ParseError('invalid header value');
  while (pos < len) {
    const lf = text.indexOf('\n', pos);
    const eol = lf === -1 ? len : lf - 1;
    const cr = text.indexOf('\r', pos);
    if (lf === -1 ? cr !== -1 : cr !== eol) throw new ParseError('invalid header value');
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon > eol) throw new ParseError('malformed header line');
    const c0 = text.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) throw new ParseError('obsolete line folding is not allowed');
    const name = nameAt(text, pos, colon);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && isTrimmed(text.charCodeAt(vs))) vs++;
    while (ve > vs && isTrimmed(text.charCodeAt(ve - 1))) ve--;
    const value = text.slice(vs, ve);
    pos = eol + 2;
    switch (name) {
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) throw new ParseError('invalid content-length');
        const n = Number(value);
        if (fr.contentLength !== -1 && fr.contentLength !== n) throw new ParseError('conflicting content-length');
        if (fr.contentLength === -1) headers.add(name, value);
        fr.contentLength = n;
        continue;
      }
      case 'transfer-encoding': {
        // Only a final `chunked` coding is understood; anything else cannot be framed safely.
        const codings = value.toLowerCase().split(',');
        const last = codings[codings.length - 1].trim();
        if (last !== 'chunked' || codings.length > 1) throw new ParseError('unsupported transfer-encoding', 501);
        fr.chunked = true;
        continue;
      }
      case 'connection': {
        // Fast paths for the two values nearly every message carries.
        if (value === 'keep-alive') {
          fr.keepAlive = true;
          continue;
        }
        if (value === 'close') {
          fr.close = true;
          continue;
        }
        for (const t of value.toLowerCase().split(',')) {
          const tok = t.trim();
          if (tok === 'close') fr.close = true;
          else if (tok === 'keep-alive') fr.keepAlive = true;
          else if (tok === 'upgrade') fr.upgrade = fr.upgrade || ' ';
          else if (tok) (connectionTokens ??= []).push(tok);
        }
        continue;
      }
      case 'upgrade':
        fr.upgrade = fr.upgrade === ' ' || fr.upgrade === '' ? value : fr.upgrade;
        headers.add(name, value);
        continue;
      case 'te':
        if (value.toLowerCase().includes('trailers')) fr.teTrailers = true;
        continue;
      case 'host':
        if (!fr.takeHost) headers.add(name, value);
        else if (fr.host === undefined) fr.host = value;
        continue;
      default:
        if (HOP_BY_HOP.has(name)) continue;
        headers.add(name, value);
    }
  }
  // `Upgrade` only counts together with `Connection: upgrade`.
  if (fr.upgrade === ' ') fr.upgrade = '';
  else if (fr.upgrade !== '' && !hasUpgradeToken(text, from)) {
    fr.upgrade = '';
    headers.remove('upgrade');
  }
  if (connectionTokens) for (const t of connectionTokens) headers.remove(t);
  // RFC 9112 §6.3: with both, Transfer-Encoding wins and Content-Length must go.
  if (fr.chunked && fr.contentLength !== -1) {
    fr.contentLength = -1;
    headers.remove('content-length');
  }
}

function countLines(text: string, pos: number): number {
  let n = 0;
  for (; pos < text.length; n++) {
    const eol = text.indexOf('\r\n', pos);
    if (eol === -1) return n + 1;
    pos = eol + 2;
  }
  return n;
}

/** A `Connection` header line of the head lists `upgrade` (rare: only messages that carry Upgrade). */
function hasUpgradeToken(text: string, from: number): boolean {
  for (const l of text.slice(from).split('\r\n')) {
    if (l.length > 11 && l.slice(0, 11).toLowerCase() === 'connection:' && /(^|[\s,])upgrade($|[\s,])/i.test(l.slice(11))) return true;
  }
  return false;
}

/** Reads up to this size are decoded whole to find the end of a head (see readHead). */
const SMALL_READ = 2048;

/**
 * The message head that starts at `start` in `buf`, as latin1 text without its final
 * CRLFCRLF, or null when the head is not complete yet. The head ends at byte
 * `start + text.length + 4` (latin1: one character per byte). A small read is decoded whole
 * and searched as a string (cheaper than Buffer#indexOf, and the head is a slice of it); a
 * larger one is searched first.
 */
export function readHead(buf: Buffer, start: number): string | null {
  if (buf.length - start <= SMALL_READ) {
    const text = latin1Slice(buf, start, buf.length);
    const i = text.indexOf('\r\n\r\n');
    return i === -1 ? null : text.slice(0, i);
  }
  const i = buf.indexOf('\r\n\r\n', start, 'latin1');
  return i === -1 ? null : latin1Slice(buf, start, i);
}

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large',
  414: 'URI Too Long', 417: 'Expectation Failed', 426: 'Upgrade Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** Statuses whose responses never carry a body (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** Serialises headers as `name: value\r\n` lines. */
export function serializeHeaders(h: HeaderMap): string {
  let s = '';
  const n = h.names;
  const v = h.values;
  for (let i = 0; i < n.length; i++) s += n[i] + ': ' + v[i] + '\r\n';
  return s;
}
