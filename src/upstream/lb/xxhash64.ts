// xxHash64 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), the hash Envoy
// uses for ring hash and Maglev placement (HashUtil::xxHash64, seed 0) and for every hash
// policy. Written over two 32-bit halves so that a hash costs no BigInt and no allocation:
// the result is left in `h64.hi` / `h64.lo` (unsigned 32-bit numbers) for the caller to read.
// Strings are hashed as their UTF-8 bytes, as Envoy hashes a std::string.

/** The last result: high and low 32 bits, each in [0, 2^32). */
export const h64 = { hi: 0, lo: 0 };

// Primes of the spec, as [high, low] halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Scratch register for the 64-bit helpers below: R[0] high, R[1] low. A typed array, because
// a uint32 above 2^31 stored in a module variable is boxed (a heap number per write).
const R = new Uint32Array(2);

/** (ah:al * bh:bl) mod 2^64 into R, in 16-bit limbs so every step stays an exact small integer. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  let c0 = a0 * b0;
  let c1 = c0 >>> 16;
  c0 &= 0xffff;
  c1 += a1 * b0;
  let c2 = c1 >>> 16;
  c1 &= 0xffff;
  c1 += a0 * b1;
  c2 += c1 >>> 16;
  c1 &= 0xffff;
  c2 += a2 * b0;
  let c3 = c2 >>> 16;
  c2 &= 0xffff;
  c2 += a1 * b1;
  c3 += c2 >>> 16;
  c2 &= 0xffff;
  c2 += a0 * b2;
  c3 += c2 >>> 16;
  c2 &= 0xffff;
  c3 = (c3 + Math.imul(a3, b0) + Math.imul(a2, b1) + Math.imul(a1, b2) + Math.imul(a0, b3)) & 0xffff;
  R[0] = (c3 << 16) | c2;
  R[1] = (c1 << 16) | c0;
}

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  R[1] = lo;
  R[0] = ah + bh + (lo > 0xffffffff ? 1 : 0);
}

/** Rotate left by r (0 < r < 32). */
function rotl(h: number, l: number, r: number): void {
  R[0] = (h << r) | (l >>> (32 - r));
  R[1] = (l << r) | (h >>> (32 - r));
}

let buf = Buffer.allocUnsafe(256);

function rd32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

// acc = rotl(acc + input * P2, 31) * P1; input is (ih:il).
function round(ah: number, al: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(ah, al, R[0], R[1]);
  rotl(R[0], R[1], 31);
  mul(R[0], R[1], P1H, P1L);
}

/**
 * Hashes `len` bytes of `b` from 0 with the 64-bit seed seedHi:seed (Envoy uses 0 and, for
 * Maglev's skip, 1; a header with several values chains the previous hash as the seed).
 * The result is in h64.
 */
export function xxh64Bytes(b: Uint8Array, len: number, seed = 0, seedHi = 0): void {
  seed >>>= 0;
  seedHi >>>= 0;
  let i = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    // v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1
    add(P1H, P1L, P2H, P2L); add(R[0], R[1], seedHi, seed);
    let v1h = R[0], v1l = R[1];
    add(P2H, P2L, seedHi, seed);
    let v2h = R[0], v2l = R[1];
    let v3h = seedHi, v3l = seed;
    // -P1 mod 2^64 = ~P1 + 1
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1); add(R[0], R[1], seedHi, seed);
    let v4h = R[0], v4l = R[1];
    const limit = len - 32;
    while (i <= limit) {
      round(v1h, v1l, rd32(b, i + 4), rd32(b, i)); v1h = R[0]; v1l = R[1];
      round(v2h, v2l, rd32(b, i + 12), rd32(b, i + 8)); v2h = R[0]; v2l = R[1];
      round(v3h, v3l, rd32(b, i + 20), rd32(b, i + 16)); v3h = R[0]; v3l = R[1];
      round(v4h, v4l, rd32(b, i + 28), rd32(b, i + 24)); v4h = R[0]; v4l = R[1];
      i += 32;
    }
    rotl(v1h, v1l, 1); hh = R[0]; hl = R[1];
    rotl(v2h, v2l, 7); add(hh, hl, R[0], R[1]); hh = R[0]; hl = R[1];
    rotl(v3h, v3l, 12); add(hh, hl, R[0], R[1]); hh = R[0]; hl = R[1];
    rotl(v4h, v4l, 18); add(hh, hl, R[0], R[1]); hh = R[0]; hl = R[1];
    // merge rounds: h = (h ^ round(0, v)) * P1 + P4
    for (let k = 0; k < 4; k++) {
      const vh = k === 0 ? v1h : k === 1 ? v2h : k === 2 ? v3h : v4h;
      const vl = k === 0 ? v1l : k === 1 ? v2l : k === 2 ? v3l : v4l;
      round(0, 0, vh, vl);
      mul((hh ^ R[0]) >>> 0, (hl ^ R[1]) >>> 0, P1H, P1L);
      add(R[0], R[1], P4H, P4L);
      hh = R[0]; hl = R[1];
    }
  } else {
    add(P5H, P5L, seedHi, seed);
    hh = R[0]; hl = R[1];
  }
  add(hh, hl, 0, len);
  hh = R[0]; hl = R[1];
  while (i + 8 <= len) {
    round(0, 0, rd32(b, i + 4), rd32(b, i));
    rotl((hh ^ R[0]) >>> 0, (hl ^ R[1]) >>> 0, 27);
    mul(R[0], R[1], P1H, P1L);
    add(R[0], R[1], P4H, P4L);
    hh = R[0]; hl = R[1];
    i += 8;
  }
  if (i + 4 <= len) {
    mul(0, rd32(b, i), P1H, P1L);
    rotl((hh ^ R[0]) >>> 0, (hl ^ R[1]) >>> 0, 23);
    mul(R[0], R[1], P2H, P2L);
    add(R[0], R[1], P3H, P3L);
    hh = R[0]; hl = R[1];
    i += 4;
  }
  while (i < len) {
    mul(0, b[i], P5H, P5L);
    rotl((hh ^ R[0]) >>> 0, (hl ^ R[1]) >>> 0, 11);
    mul(R[0], R[1], P1H, P1L);
    hh = R[0]; hl = R[1];
    i++;
  }
  // avalanche
  hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
  mul(hh, hl, P2H, P2L);
  hh = R[0]; hl = R[1];
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
  hh = (hh ^ (hh >>> 29)) >>> 0;
  mul(hh, hl, P3H, P3L);
  h64.hi = R[0];
  h64.lo = (R[1] ^ R[0]) >>> 0; // h ^= h >> 32
}

/** Hashes a string's UTF-8 bytes; the result is in h64. No allocation for strings up to the scratch size. */
export function xxh64String(s: string, seed = 0, seedHi = 0): void {
  const need = s.length * 3;
  if (need > buf.length) buf = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
  const n = buf.write(s, 0, 'utf8');
  xxh64Bytes(buf, n, seed, seedHi);
}

/** The same hash as a BigInt: for tests, logs and config time, never the request path. */
export function xxh64(s: string | Uint8Array, seed: number | bigint = 0): bigint {
  const lo = Number(BigInt(seed) & 0xffffffffn);
  const hi = Number((BigInt(seed) >> 32n) & 0xffffffffn);
  if (typeof s === 'string') xxh64String(s, lo, hi);
  else xxh64Bytes(s, s.length, lo, hi);
  return (BigInt(h64.hi) << 32n) | BigInt(h64.lo);
}

const HEX = '0123456789abcdef';
/** Envoy's Hex::uint64ToHex: 16 lower-case hex digits, zero-padded. */
export function hex16(hi: number, lo: number): string {
  let s = '';
  for (let k = 28; k >= 0; k -= 4) s += HEX[(hi >>> k) & 15];
  for (let k = 28; k >= 0; k -= 4) s += HEX[(lo >>> k) & 15];
  return s;
}
