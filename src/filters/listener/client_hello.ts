// Reads SNI and ALPN from a TLS ClientHello without consuming it: the bytes are only looked
// at, and the connection's terminal filter receives all of them afterwards. The ClientHello
// may span several TLS records; they are reassembled up to `maxSize` bytes of handshake.
// RFC 8446 §4.1.2 (ClientHello), RFC 6066 §3 (server_name), RFC 7301 §3.1 (ALPN).

export type ClientHelloResult =
  | { state: 'more' }
  | { state: 'not_tls' }
  | { state: 'too_large' }
  | { state: 'tls'; serverName: string; alpn: string[] };

const MORE: ClientHelloResult = { state: 'more' };
const NOT_TLS: ClientHelloResult = { state: 'not_tls' };
const TOO_LARGE: ClientHelloResult = { state: 'too_large' };

const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
/** A TLS record holds at most 2^14 bytes of plaintext (plus slack some stacks use). */
const MAX_RECORD = 16384 + 2048;

/** Looks at the bytes read so far; 'more' means a decision needs more bytes. */
export function inspectClientHello(buf: Buffer, maxSize = 64 * 1024): ClientHelloResult {
  if (buf.length >= 1 && buf[0] !== CONTENT_HANDSHAKE) return NOT_TLS;
  if (buf.length >= 2 && buf[1] !== 3) return NOT_TLS;
  const fragments: Buffer[] = [];
  let have = 0;
  let o = 0;
  while (o + 5 <= buf.length) {
    if (buf[o] !== CONTENT_HANDSHAKE || buf[o + 1] !== 3) return NOT_TLS;
    const len = buf.readUInt16BE(o + 3);
    if (len === 0 || len > MAX_RECORD) return NOT_TLS;
    if (o + 5 + len > buf.length) {
      // An incomplete first record can still tell the handshake type and length.
      if (fragments.length === 0 && buf.length >= o + 6 && buf[o + 5] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
      if (fragments.length === 0 && buf.length >= o + 9 && ((buf[o + 6] << 16) | (buf[o + 7] << 8) | buf[o + 8]) > maxSize) return TOO_LARGE;
      break;
    }
    fragments.push(buf.subarray(o + 5, o + 5 + len));
    have += len;
    o += 5 + len;
    const hs = fragments.length === 1 ? fragments[0] : Buffer.concat(fragments, have);
    if (hs[0] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
    if (hs.length < 4) continue;
    const hsLen = (hs[1] << 16) | (hs[2] << 8) | hs[3];
    if (hsLen > maxSize) return TOO_LARGE;
    if (hs.length >= 4 + hsLen) return parseClientHello(hs.subarray(4, 4 + hsLen));
  }
  if (buf.length > maxSize + 5 * Math.ceil(maxSize / 16384) + 5) return TOO_LARGE;
  return MORE;
}

/** A bounds-checked cursor: any read past the end marks the message malformed. */
class Reader {
  ok = true;
  constructor(
    private readonly b: Buffer,
    private o = 0,
    private readonly end = b.length,
  ) {}
  get left(): number {
    return this.end - this.o;
  }
  u8(): number {
    if (this.o + 1 > this.end) return this.fail();
    return this.b[this.o++];
  }
  u16(): number {
    if (this.o + 2 > this.end) return this.fail();
    const v = this.b.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  skip(n: number): void {
    if (this.o + n > this.end) this.fail();
    else this.o += n;
  }
  /** A sub-reader over the next n bytes. */
  sub(n: number): Reader {
    if (this.o + n > this.end) {
      this.fail();
      return new Reader(this.b, this.end, this.end);
    }
    const r = new Reader(this.b, this.o, this.o + n);
    this.o += n;
    return r;
  }
  bytes(n: number): Buffer {
    if (this.o + n > this.end) {
      this.fail();
      return Buffer.alloc(0);
    }
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  /** Marks the message malformed (a nested length ran past its parent). */
  invalidate(): void {
    this.fail();
  }
  private fail(): number {
    this.ok = false;
    this.o = this.end;
    return 0;
  }
}

function parseClientHello(body: Buffer): ClientHelloResult {
  const r = new Reader(body);
  const major = r.u8();
  r.u8(); // minor
  if (major !== 3) return NOT_TLS;
  r.skip(32); // random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  let serverName = '';
  const alpn: string[] = [];
  if (r.left >= 2) {
    const exts = r.sub(r.u16());
    while (exts.ok && exts.left >= 4) {
      const type = exts.u16();
      const data = exts.sub(exts.u16());
      if (type === EXT_SERVER_NAME && serverName === '') serverName = readServerName(data);
      else if (type === EXT_ALPN) readAlpn(data, alpn);
      if (!data.ok) return NOT_TLS;
    }
    if (!exts.ok) return NOT_TLS;
  }
  if (!r.ok) return NOT_TLS;
  return { state: 'tls', serverName, alpn };
}

function readServerName(r: Reader): string {
  const list = r.sub(r.u16());
  while (list.ok && list.left >= 3) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (type === 0 && list.ok) return name.toString('latin1').toLowerCase();
  }
  if (!list.ok) r.invalidate();
  return '';
}

function readAlpn(r: Reader, out: string[]): void {
  const list = r.sub(r.u16());
  while (list.ok && list.left >= 1) {
    const p = list.bytes(list.u8());
    if (list.ok) out.push(p.toString('latin1'));
  }
  if (!list.ok) r.invalidate();
}
