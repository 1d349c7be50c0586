// Tells HTTP/1.x from HTTP/2 prior knowledge (h2c) from anything else by looking at the
// first bytes of a connection, as envoy.filters.listener.http_inspector does: the HTTP/2
// connection preface, or an HTTP/1.x request line (`METHOD SP target SP HTTP/1.x`).

export type HttpDetectResult = 'more' | 'h2c' | 'http/1.1' | 'http/1.0' | 'none';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Bytes looked at before giving up on finding the end of a request line (Envoy uses 8 KiB too). */
export const MAX_INSPECT = 8192;

/** RFC 9110 tchar, for the method token. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function detectHttp(buf: Buffer): HttpDetectResult {
  if (buf.length === 0) return 'more';
  // The h2 preface: decided once all 24 bytes are there, or as soon as a byte differs.
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.compare(H2_PREFACE, 0, n, 0, n) === 0) return buf.length >= H2_PREFACE.length ? 'h2c' : 'more';
  // HTTP/1.x: a method token, a space, a target without spaces or controls, a space, the version.
  let i = 0;
  const lim = Math.min(buf.length, MAX_INSPECT);
  while (i < lim && TCHAR[buf[i]] === 1) i++;
  if (i === lim) return buf.length >= MAX_INSPECT ? 'none' : 'more';
  if (i === 0 || buf[i] !== 0x20) return 'none';
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
