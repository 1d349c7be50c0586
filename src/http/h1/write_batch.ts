// Output batching for the HTTP/1.1 codecs: the bytes of a complete small message (a
// request head with no body, a response head plus its whole body) are held until the end
// of the event loop's poll phase, then every held message goes out in one burst.
//
// Why: on loopback (a sidecar's normal case) a write() does the receiver's TCP input in
// the sender's context and wakes the receiving process if it sleeps. Writing as each
// event is handled spreads the writes out, so the peer (client or upstream) goes back to
// sleep between them and is woken again, once per message; measured here, that was ~0.8
// wake-ups per proxied request against HAProxy's ~0.25, and the wake-ups were a large part
// of the proxy's CPU time. Writes grouped after the poll phase find the peer still awake.
// Envoy behaves the same way: Network::ConnectionImpl::write() only appends to the
// connection's write buffer and activates a write event; the socket is written when the
// dispatcher gets to that event, after the events at hand.
//
// Ordering: a connection's later writes, end() and close all go through its BatchedWriter,
// which first writes what it holds, so bytes never overtake one another.
import { Socket } from 'node:net';

/**
 * node:net's internal write step (what Writable#write ends in for a socket): the bytes go to
 * the handle (the kernel, or libuv's queue behind earlier writes, in order), the handle's
 * byte count and the socket's timers are kept as for any write. Skipping Writable for a held
 * message skips its length accounting and the callback it schedules per write on the next
 * tick, which nothing here needs: a held message is the end of a message, with no
 * backpressure to report (see defer). Used only while the socket's Writable holds nothing.
 */
type WriteGeneric = (writev: boolean, data: Buffer | string, encoding: string, cb: (err?: Error | null) => void) => void;
const writeGeneric = (Socket.prototype as unknown as { _writeGeneric?: WriteGeneric })._writeGeneric;

/** Held messages larger than this are written at once (they are not the per-request case). */
export const DEFER_LIMIT = 16 * 1024;

export class BatchedWriter {
  /** Bytes held until the end of the poll phase (latin1 when a string), or null. */
  private held: Buffer | string | null = null;
  /** Counts defer() calls: names what is held, for takeBack (equal strings are not the same message). */
  private ticket = 0;

  /** Completion of a held message written past Writable: an error ends the connection, as Writable would. */
  private readonly written: (err?: Error | null) => void;

  constructor(readonly socket: Socket) {
    this.written = (err) => {
      if (err) socket.destroy(err);
    };
  }

  /**
   * Queues the last bytes of a message to be written after the events at hand. The
   * caller has nothing more to send for this message, so there is no backpressure to
   * report: a full socket buffer shows up as 'drain' later, as for any write.
   */
  defer(data: Buffer | string): number {
    if (this.held !== null) this.flush();
    this.held = data;
    const t = ++this.ticket;
    queue.push(this);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushAll);
    }
    return t;
  }

  /** Writes now, after anything held; returns the socket's backpressure signal. */
  write(data: Buffer | string): boolean {
    if (this.held !== null) this.flush();
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  /**
   * Takes back what defer() returned `ticket` for, if it is still held (not yet written): a
   * response head held while its body may still arrive in the same turn, so the two go out
   * in one write. Returns null when it was written already.
   */
  takeBack(ticket: number): Buffer | string | null {
    if (this.held === null || this.ticket !== ticket) return null;
    const d = this.held;
    this.held = null;
    return d;
  }

  /** Writes what is held, if anything. */
  flush(): void {
    const d = this.held;
    if (d === null) return;
    this.held = null;
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return;
    if (writeGeneric !== undefined && s.writableLength === 0 && !s.connecting && s.writableCorked === 0) {
      writeGeneric.call(s, false, d, typeof d === 'string' ? 'latin1' : 'buffer', this.written);
    } else if (typeof d === 'string') s.write(d, 'latin1');
    else s.write(d);
  }

  /** Half-closes after anything held. */
  end(): void {
    if (this.held !== null) this.flush();
    this.socket.end();
  }

  /** Drops anything held (the connection is being reset). */
  discard(): void {
    this.held = null;
  }
}

const queue: BatchedWriter[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  // socket.write() reports completion and errors asynchronously, so nothing is queued
  // while this runs; the length is read each turn all the same.
  for (let i = 0; i < queue.length; i++) queue[i].flush();
  queue.length = 0;
}
