// xxHash64 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), the hash Envoy
// uses for ring hash and Maglev placement (HashUtil::xxHash64, seed 0) and for every hash
// policy. The arithmetic runs in a small WebAssembly module (xxhash64.wat, compiled to the
// committed xxhash64.wasm), instantiated synchronously at load: JavaScript has no 64-bit
// integers short of BigInt, which allocates. A hash costs no allocation: the input is written
// into the module's memory and the result is left in `h64.hi` / `h64.lo` (unsigned 32-bit
// numbers) for the caller to read. Strings are hashed as their UTF-8 bytes, as Envoy hashes a
// std::string.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The last result: high and low 32 bits, each in [0, 2^32). */
export const h64 = { hi: 0, lo: 0 };

// The same path from src/ (tsx) and dist/ (tsc output does not copy the .wasm).
const WASM_PATH = path.join(__dirname, '..', '..', '..', 'src', 'upstream', 'lb', 'xxhash64.wasm');
const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(WASM_PATH)));
const memory = instance.exports.memory as WebAssembly.Memory;
const hash = instance.exports.h64 as (len: number, seedLo: number, seedHi: number) => void;

/** Input starts at byte 8 of the module's memory; bytes 0..7 hold the result. */
const INPUT = 8;
let bytes = new Uint8Array(memory.buffer);
let buf = Buffer.from(memory.buffer);
let out = new Uint32Array(memory.buffer, 0, 2);

/** Grows the module's memory so that `n` input bytes fit (views are rebuilt: growing detaches them). */
function reserve(n: number): void {
  const need = INPUT + n;
  if (need <= memory.buffer.byteLength) return;
  memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  bytes = new Uint8Array(memory.buffer);
  buf = Buffer.from(memory.buffer);
  out = new Uint32Array(memory.buffer, 0, 2);
}

function run(len: number, seed: number, seedHi: number): void {
  hash(len, seed >>> 0, seedHi >>> 0);
  h64.lo = out[0];
  h64.hi = out[1];
}

/**
 * Hashes `len` bytes of `b` from 0 with the 64-bit seed seedHi:seed (Envoy uses 0 and, for
 * Maglev's skip, 1; a header with several values chains the previous hash as the seed).
 * The result is in h64.
 */
export function xxh64Bytes(b: Uint8Array, len: number, seed = 0, seedHi = 0): void {
  reserve(len);
  if (len <= 64) for (let i = 0; i < len; i++) bytes[INPUT + i] = b[i];
  else bytes.set(len === b.length ? b : b.subarray(0, len), INPUT);
  run(len, seed, seedHi);
}

/** Hashes a string's UTF-8 bytes; the result is in h64. Short ASCII strings are copied in JS. */
export function xxh64String(s: string, seed = 0, seedHi = 0): void {
  const n = s.length;
  if (n <= 128) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      bytes[INPUT + i] = c;
    }
    if (i === n) return run(n, seed, seedHi);
  }
  reserve(n * 3);
  run(buf.write(s, INPUT, 'utf8'), seed, seedHi);
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
