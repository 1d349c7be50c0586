// Latin1 reads and writes of Buffers without Buffer#toString / Buffer#write, which dispatch
// on the encoding name and check their arguments first: on the HTTP/1.1 path those wrappers
// cost more than the copy itself for a head of a few hundred bytes. Node's Buffer has had
// latin1Slice / latin1Write (what those wrappers call) on its prototype for every release;
// they are not in @types/node, hence the casts, and the fallback should one ever go.

interface Latin1Methods {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
}

const proto = Buffer.prototype as unknown as Partial<Latin1Methods>;
const direct = typeof proto.latin1Slice === 'function' && typeof proto.latin1Write === 'function';

/** buf[start, end) as a latin1 string (one character per byte). */
export const latin1Slice: (buf: Buffer, start: number, end: number) => string = direct
  ? (buf, start, end) => (buf as unknown as Latin1Methods).latin1Slice(start, end)
  : (buf, start, end) => buf.toString('latin1', start, end);

/** Writes `s` (latin1) into buf at `offset`; the caller has made room for all of it. */
export const latin1Write: (buf: Buffer, s: string, offset: number) => number = direct
  ? (buf, s, offset) => (buf as unknown as Latin1Methods).latin1Write(s, offset, s.length)
  : (buf, s, offset) => buf.write(s, offset, 'latin1');
