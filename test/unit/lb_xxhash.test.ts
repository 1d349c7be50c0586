// xxHash64 in WebAssembly (src/upstream/lb/xxhash64.wat → the committed .wasm): the binary is
// what the source compiles to, known vectors hold, and it agrees with a BigInt reference
// written here from the specification on random inputs (all tail lengths, seeds, UTF-8,
// inputs large enough to grow the module's memory).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { h64, xxh64, xxh64Bytes, xxh64String } from '../../src/upstream/lb/xxhash64';
import { seededRandom } from '../support/prng';

const M = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n, P2 = 0xc2b2ae3d27d4eb4fn, P3 = 0x165667b19e3779f9n, P4 = 0x85ebca77c2b2ae63n, P5 = 0x27d4eb2f165667c5n;
const rotl = (v: bigint, r: bigint) => ((v << r) | (v >> (64n - r))) & M;
const round = (acc: bigint, input: bigint) => (rotl((acc + input * P2) & M, 31n) * P1) & M;
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1) & M) + P4 & M;

function reference(b: Uint8Array, seed: bigint): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = b.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, dv.getBigUint64(p, true));
      v2 = round(v2, dv.getBigUint64(p + 8, true));
      v3 = round(v3, dv.getBigUint64(p + 16, true));
      v4 = round(v4, dv.getBigUint64(p + 24, true));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, dv.getBigUint64(p, true)), 27n) * P1) & M) + P4 & M;
  if (p + 4 <= len) {
    h = ((rotl(h ^ ((BigInt(dv.getUint32(p, true)) * P1) & M), 23n) * P2) & M) + P3 & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(b[p]) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  return h ^ (h >> 32n);
}

test('the committed xxhash64.wasm is what xxhash64.wat compiles to', async () => {
  const dir = path.join(__dirname, '..', '..', 'src', 'upstream', 'lb');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { compile } = require(path.join(dir, 'build_wasm.js'));
  const built: Buffer = await compile();
  assert.ok(built.equals(fs.readFileSync(path.join(dir, 'xxhash64.wasm'))), 'run `npm run build:wasm` after editing xxhash64.wat');
});

test('known vectors', () => {
  assert.equal(xxh64('').toString(16), 'ef46db3751d8e999');
  assert.equal(xxh64('a').toString(16), 'd24ec4f1a98c6e5b');
  assert.equal(xxh64('abc').toString(16), '44bc2cf5ad770999');
  const stripes = 'Nobody inspects the spammish repetition';
  assert.equal(xxh64(stripes), reference(Buffer.from(stripes), 0n));
});

test('agrees with the reference on random inputs, seeds, UTF-8 strings and large inputs', () => {
  const rnd = seededRandom(0x5eed);
  for (let i = 0; i < 600; i++) {
    const len = i < 200 ? i : Math.floor(rnd() * 5000);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
    const seedLo = Math.floor(rnd() * 2 ** 32), seedHi = i % 3 === 0 ? 0 : Math.floor(rnd() * 2 ** 32);
    xxh64Bytes(b, len, seedLo, seedHi);
    const got = (BigInt(h64.hi) << 32n) | BigInt(h64.lo);
    assert.equal(got, reference(b, (BigInt(seedHi) << 32n) | BigInt(seedLo)), `length ${len}`);
  }
  for (const s of ['héllo', 'ключ', '键值', '🙂 emoji key', 'x'.repeat(127) + 'é', 'ascii-only-key-of-some-length']) {
    xxh64String(s, 1);
    assert.equal((BigInt(h64.hi) << 32n) | BigInt(h64.lo), reference(Buffer.from(s, 'utf8'), 1n), s);
  }
  // Larger than the module's first 64 KiB page: memory grows, results stay right.
  const big = Buffer.alloc(200_000, 7);
  assert.equal(xxh64(big), reference(big, 0n));
  assert.equal(xxh64('short after growing'), reference(Buffer.from('short after growing'), 0n));
});
