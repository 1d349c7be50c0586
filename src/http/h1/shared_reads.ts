// Socket reads into one shared buffer instead of a new Buffer per read.
//
// By default every read on a net.Socket allocates a fresh ArrayBuffer (malloc'd, later
// swept by the young-generation GC) and goes through the Readable stream machinery
// (push, 'data', a nextTick per read). node:net has a documented alternative, the
// `onread` option: the handle reads into a buffer the caller supplies and hands over the
// byte count synchronously. The HTTP/1.1 codecs parse heads in place and copy only what
// they keep, so one buffer serves every socket of the process: reads run one at a time
// on this thread and each callback is done with the bytes before it returns.
//
// `onread` is an option of the Socket constructor; sockets accepted by a net.Server are
// constructed by node:net itself, so for them the same three fields are set on the socket
// after the fact (found by their symbol descriptions on a socket built with `onread`).
// Sockets that cannot take it (TLS, anything without a plain TCP handle, a socket with
// bytes already queued in its stream) keep 'data' events: the caller is told which.
//
// With SWITCHYARD_POISON_SHARED_READS=1 (the test suite sets it) each read's bytes are
// overwritten once its callback returns, so bytes kept by mistake turn into '#'s at the far
// end instead of passing by luck when no other read happened to reuse the buffer yet.
import { Socket } from 'node:net';

/** Called with the bytes of one read. The buffer is only valid until the call returns. */
export type SharedReadCallback = (bytes: Buffer) => void;

const SHARED = Buffer.allocUnsafe(64 * 1024);
const SHARED_MEMORY = SHARED.buffer;
const POISON = process.env.SWITCHYARD_POISON_SHARED_READS === '1';

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

function findSymbols(): OnreadSymbols | null {
  // @types/node lists `onread` for connect() only; the Socket constructor takes it too.
  const opts = { onread: { buffer: Buffer.alloc(1), callback: () => true } };
  const probe = new Socket(opts as ConstructorParameters<typeof Socket>[0]);
  const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  probe.destroy();
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  if (buffer === undefined || callback === undefined || generator === undefined) return null;
  return { buffer, callback, generator };
}

const symbols = findSymbols();

interface TcpHandle {
  useUserBuffer?(buf: Uint8Array): void;
}

/**
 * Switches the socket's reads to the shared buffer; `cb` gets every later read. Returns
 * false (and changes nothing) when the socket can't: the caller listens for 'data' then.
 */
export function readShared(socket: Socket, cb: SharedReadCallback): boolean {
  if (symbols === null || socket.constructor !== Socket || socket.readableLength > 0) return false;
  const handle = (socket as unknown as { _handle: TcpHandle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  if (s[symbols.buffer]) return false;
  s[symbols.buffer] = SHARED;
  s[symbols.generator] = null;
  s[symbols.callback] = (n: number, buf: Buffer) => {
    cb(view(n));
    if (POISON) buf.fill(0x23, 0, n);
    return true;
  };
  handle.useUserBuffer(SHARED);
  return true;
}

/**
 * The first n bytes of the shared buffer. Views of small reads are made once per length and
 * handed out again: a view is only valid during its callback anyway, and a request or
 * response of a given size recurs, so this saves making a Buffer object per read.
 */
const VIEW_CACHE_MAX = 4096;
const VIEWS: (Buffer | undefined)[] = new Array(VIEW_CACHE_MAX + 1).fill(undefined);

function view(n: number): Buffer {
  if (n > VIEW_CACHE_MAX) return SHARED.subarray(0, n);
  let v = VIEWS[n];
  if (v === undefined) VIEWS[n] = v = SHARED.subarray(0, n);
  return v;
}

/** Whether the bytes are (part of) the shared read buffer, i.e. must be copied to be kept. */
export function isShared(b: Buffer): boolean {
  return b.buffer === SHARED_MEMORY;
}

/** The bytes themselves if they may be kept, else a copy. */
export function keepable(b: Buffer): Buffer {
  return isShared(b) ? Buffer.from(b) : b;
}
