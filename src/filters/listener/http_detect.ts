// Tells HTTP/1.x from HTTP/2 prior knowledge (h2c) from anything else by looking at the
// first bytes of a connection, as envoy.filters.listener.http_inspector does: the HTTP/2
// connection preface, or an HTTP/1.x request line (`METHOD SP target SP HTTP/1.x`).

export type HttpDetectResult = 'more' | 'h2c' | 'http/1.1' | 'http/1.0' | 'none';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Bytes looked at before giving up on finding the end of a request line (Envoy uses 8 KiB too). */
export const MAX_INSPECT = 8192;

/**
 * The request methods HTTP/1 parsers know (RFC 9110, WebDAV, and the others Envoy's parser
 * accepts). Like Envoy's inspector, a first word that cannot become one of them is not HTTP at
 * once, rather than after the listener filter timeout.
 */
const METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'COPY', 'LOCK',
  'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL',
  'REPORT', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE',
  'PURGE', 'MKCALENDAR', 'LINK', 'UNLINK', 'SOURCE',
];
const LONGEST_METHOD = Math.max(...METHODS.map((m) => m.length));

/** -1: no method starts with buf[0..n); 0: a proper prefix of one; 1: exactly one followed by a space. */
function methodState(buf: Buffer, n: number): number {
  let prefix = false;
  for (const m of METHODS) {
    let k = 0;
    while (k < n && k < m.length && buf[k] === m.charCodeAt(k)) k++;
    if (k === m.length && n > k && buf[k] === 0x20) return 1;
    if (k === n && n <= m.length) prefix = true;
  }
  return prefix ? 0 : -1;
}

export function detectHttp(buf: Buffer): HttpDetectResult {
  if (buf.length === 0) return 'more';
  // The h2 preface: decided once all 24 bytes are there, or as soon as a byte differs.
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) === 0) return buf.length >= H2_PREFACE.length ? 'h2c' : 'more';
  // HTTP/1.x: a known method, a space, a target without spaces or controls, a space, the version.
  const lim = Math.min(buf.length, MAX_INSPECT);
  const sp = buf.indexOf(0x20, 0);
  const ms = methodState(buf, sp === -1 ? Math.min(buf.length, LONGEST_METHOD + 1) : sp + 1);
  if (ms < 0) return 'none';
  if (ms === 0) return 'more';
  let i = sp;
  const targetStart = ++i;
  while (i < lim && buf[i] > 0x20 && buf[i] !== 0x7f) i++;
  if (i === lim) return buf.length >= MAX_INSPECT ? 'none' : 'more';
  if (i === targetStart || buf[i] !== 0x20) return 'none';
  i++;
  // The version, then the end of the line (CRLF, or a bare LF that HTTP/1 parsers accept).
  const v = buf.subarray(i, Math.min(buf.length, i + 9)).toString('latin1');
  for (const [version, proto] of VERSIONS) {
    if (v.length <= version.length) {
      if (version.startsWith(v)) return 'more';
    } else if (v.startsWith(version)) {
      return v[8] === '\r' || v[8] === '\n' ? proto : 'none';
    }
  }
  return 'none';
}

const VERSIONS: [string, HttpDetectResult][] = [
  ['HTTP/1.1', 'http/1.1'],
  ['HTTP/1.0', 'http/1.0'],
];
