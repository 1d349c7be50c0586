// tcp_proxy's zero-copy relay: hands two connected plain TCP sockets to the addon's splice(2)
// relay (native/relay.c), which moves bytes between them in the kernel on the main libuv loop,
// with backpressure, half-close each way and an idle timer, and reports once at the end.
//
// Only where it is valid: Linux, the addon loaded, and both sockets plain fd-backed TCP
// sockets (no TLS or other stream wrapped around them) with nothing queued for writing. For
// anything else SpliceRelay.start() answers null and the caller keeps its stream path.
//
// SWITCHYARD_TCP_PROXY_RELAY=stream (read once, at load) turns the relay off: tcp_proxy then
// uses its Node streams path (`pipe()`) everywhere. It exists so the tests can run that fallback
// path; users have no reason to set it.
//
// Taking the sockets over: both are paused, what their streams already buffered is drained
// and handed to the relay as bytes to write first (with the listener filters' `initial`
// bytes), and their libuv handles stop reading (readStop), so Node's own TCP handles stay
// open but idle; the relay works on dup()s of the fds. This file and original_dst.ts are the
// only places that touch Node's private `_handle`.
import type { Socket } from 'node:net';
import * as util from 'node:util';
import { interceptionAddon } from './native';
import { log } from '../log';

/** Bytes the relay moved: taken from / given to each side (not counting what Node read itself). */
export interface RelayCounts {
  readA: number;
  writtenB: number;
  readB: number;
  writtenA: number;
}

export type RelayEndReason = 'done' | 'error' | 'idle';

export interface RelayEndListener {
  /** Called once, from the loop, when both FINs have passed, a side failed, or the idle timer fired. */
  onRelayEnd(reason: RelayEndReason, error: Error | undefined, counts: RelayCounts): void;
}

interface RelayAddon {
  relayStart(fdA: number, fdB: number, idleMs: number, onDone: (errno: number, reason: number, counts: number[]) => void): object;
  relayWriteFirst(handle: object, pendingAtoB: Buffer | null, pendingBtoA: Buffer | null): void;
  relayStop(handle: object): number[];
  relayCounts(handle: object): number[];
}

interface TcpHandle {
  fd?: number;
  reading?: boolean;
  readStop?: () => number;
}

interface Internals {
  _handle?: TcpHandle | null;
  encrypted?: boolean;
}

const REASONS: RelayEndReason[] = ['done', 'error', 'idle'];
const DRAIN_LIMIT = 64;

let relayAddon: RelayAddon | null | undefined;

function addon(): RelayAddon | null {
  if (relayAddon !== undefined) return relayAddon;
  relayAddon = null;
  if (process.platform !== 'linux' || process.env.SWITCHYARD_TCP_PROXY_RELAY === 'stream') return null;
  try {
    const a = interceptionAddon() as unknown as Partial<RelayAddon>;
    if (typeof a.relayStart === 'function' && typeof a.relayWriteFirst === 'function' && typeof a.relayStop === 'function' && typeof a.relayCounts === 'function') {
      relayAddon = a as RelayAddon;
    }
  } catch {
    // No addon: the stream path it is.
  }
  return relayAddon;
}

/** The fd of a plain TCP socket that owns it (not TLS, nothing queued), else -1. */
function plainFd(s: Socket): number {
  const x = s as unknown as Internals;
  if (x.encrypted === true || s.destroyed || s.connecting || s.writableLength > 0) return -1;
  const fd = x._handle?.fd;
  return typeof fd === 'number' && fd >= 0 && typeof x._handle?.readStop === 'function' ? fd : -1;
}

/** Pauses the stream and takes what it has buffered (null: nothing). */
function drain(s: Socket, first: Buffer | null): Buffer | null {
  s.pause();
  const chunks: Buffer[] = first !== null && first.length > 0 ? [first] : [];
  for (let i = 0; i < DRAIN_LIMIT; i++) {
    const c = s.read() as Buffer | null;
    if (c === null) break;
    chunks.push(c);
  }
  if (chunks.length === 0) return null;
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Stops libuv reading the socket (read() above may have started it); the fd stays Node's. */
function stopReading(s: Socket): void {
  const h = (s as unknown as Internals)._handle as TcpHandle;
  h.reading = false;
  h.readStop!();
}

function systemError(errno: number): Error {
  const code = util.getSystemErrorName(-errno);
  const e = new Error(`relay: ${code}`) as Error & { code: string; errno: number };
  e.code = code;
  e.errno = -errno;
  return e;
}

function toCounts(c: number[]): RelayCounts {
  return { readA: c[0], writtenB: c[1], readB: c[2], writtenA: c[3] };
}

/** A running relay between sockets A and B. */
export class SpliceRelay {
  private constructor(
    private readonly native: RelayAddon,
    private handle: object | null,
  ) {}

  /**
   * Relays A ⇄ B with splice(2), writing `initialAtoB` (bytes already read from A) to B first.
   * idleMs > 0: the relay ends with 'idle' after that long with no bytes moving either way.
   * Returns null, changing nothing, when the relay cannot serve these sockets.
   */
  static start(a: Socket, b: Socket, initialAtoB: Buffer | null, idleMs: number, listener: RelayEndListener): SpliceRelay | null {
    const native = addon();
    if (native === null) return null;
    const fdA = plainFd(a);
    const fdB = plainFd(b);
    if (fdA < 0 || fdB < 0) return null;
    const relay = new SpliceRelay(native, null);
    try {
      relay.handle = native.relayStart(fdA, fdB, idleMs, (errno, reason, counts) => {
        relay.handle = null;
        listener.onRelayEnd(REASONS[reason] ?? 'error', reason === 1 ? systemError(errno) : undefined, toCounts(counts));
      });
    } catch (e) {
      // Out of fds or pipes: the sockets are untouched, the stream path takes them.
      if (log.enabled('debug')) log.debug('splice relay unavailable for a connection', { error: (e as Error).message });
      return null;
    }
    // Synchronously after relayStart: the relay's first poll callback comes on a later loop turn.
    const pendingAtoB = drain(a, initialAtoB);
    const pendingBtoA = drain(b, null);
    stopReading(a);
    stopReading(b);
    native.relayWriteFirst(relay.handle, pendingAtoB, pendingBtoA);
    return relay;
  }

  /** The bytes moved so far while the relay runs; null once it has ended or been stopped. */
  counts(): RelayCounts | null {
    return this.handle === null ? null : toCounts(this.native.relayCounts(this.handle));
  }

  /** Stops a running relay (no onRelayEnd) and frees its pipes and fds; the counts so far. */
  stop(): RelayCounts {
    const h = this.handle;
    this.handle = null;
    return toCounts(h === null ? [0, 0, 0, 0] : this.native.relayStop(h));
  }
}
