// x-request-id values: random (version 4) UUIDs, as Envoy's UUIDRequestIDExtension makes
// them (RFC 9562 §5.4). One is made for nearly every request, so this avoids what
// crypto.randomUUID() costs per call here (a string built from 20 concatenated pieces,
// flattened again when the head is written): the random bytes come from a pool refilled
// 256 UUIDs at a time (as Node's own randomUUID does), the 36 characters are written into
// a scratch buffer and read out as one flat latin1 string.
import { randomFillSync } from 'node:crypto';
import { latin1Slice } from '../util/latin1';

const POOL_UUIDS = 256;
const pool = Buffer.allocUnsafe(16 * POOL_UUIDS);
let poolOff = pool.length;
const out = Buffer.allocUnsafe(36);
/** The two lower-case hex digits of each byte, as character codes. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, '0');
  HEX[2 * i] = s.charCodeAt(0);
  HEX[2 * i + 1] = s.charCodeAt(1);
}
const DASH = 45;

/** A new random UUID (version 4, RFC 9562 variant), lower-case, 8-4-4-4-12. */
export function randomRequestId(): string {
  if (poolOff === pool.length) {
    randomFillSync(pool);
    poolOff = 0;
  }
  const p = poolOff;
  poolOff += 16;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    let b = pool[p + i];
    if (i === 6) b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10xx
    out[o++] = HEX[2 * b];
    out[o++] = HEX[2 * b + 1];
    if (i === 3 || i === 5 || i === 7 || i === 9) out[o++] = DASH;
  }
  return latin1Slice(out, 0, 36);
}
