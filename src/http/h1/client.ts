// Upstream HTTP/1.1 codec: one connection, one request at a time (no upstream
// pipelining, as Envoy). The connection object is itself the UpstreamStream while a
// request is on it; the pool hands it back out once the response is complete.
import { openUpstreamSocket, type UpstreamSource } from '../../upstream/source';
import type { Socket } from 'node:net';
import { HeaderMap } from '../headers';
import type { RequestHead, ResetReason, ResponseHead, UpstreamResponseSink, UpstreamStream } from '../stream';
import type { IdleTracked } from '../../util/idle_sweeper';
import { ChunkedDecoder, chunkHeader, LAST_CHUNK, type ChunkSink } from './chunked';
import { BatchedWriter } from './write_batch';
import { keepable, readShared } from './shared_reads';
import { newFraming, ParseError, parseHeaderBlock, readHead, serializeHeaders, statusHasNoBody } from './parse';

export interface H1ClientOwner {
  onConnected(c: H1ClientConnection): void;
  onConnectFailed(c: H1ClientConnection, reason: string): void;
  /** The response is complete and the connection may be reused (reusable) or is gone. */
  onStreamDone(c: H1ClientConnection, reusable: boolean): void;
  onClosed(c: H1ClientConnection): void;
}

const enum St {
  Connecting,
  Idle,
  Busy,
  Closed,
}

const enum Rx {
  Head,
  Body,
  UntilClose,
  Upgraded,
  Done,
}

const MAX_RESPONSE_HEAD = 96 * 1024;
const EMPTY = Buffer.alloc(0);

export class H1ClientConnection implements UpstreamStream, ChunkSink, IdleTracked {
  readonly socket: Socket;
  /** Every write to the socket goes through here (write_batch.ts keeps them in order). */
  private readonly out: BatchedWriter;
  private st = St.Connecting;
  sink: UpstreamResponseSink | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  // request side
  private reqChunked = false;
  private reqHead = false;
  private reqDone = false;
  // response side
  private rx = Rx.Head;
  private pending: Buffer | null = null;
  private bodyRemaining = 0;
  private chunked: ChunkedDecoder | null = null;
  private keepAlive = true;
  requests = 0;
  bytesReceived = 0;
  /** A request is on this connection and the pool has not been told it ended. */
  hasStream = false;

  /** Bytes handed to the socket so far (upstream_cx_tx_bytes_total). */
  get bytesSent(): number {
    return this.socket.bytesWritten;
  }

  constructor(
    readonly ip: string,
    readonly port: number,
    connectTimeoutMs: number,
    private readonly owner: H1ClientOwner,
    source?: UpstreamSource,
  ) {
    const s = openUpstreamSocket(ip, port, source, true);
    this.socket = s;
    this.out = new BatchedWriter(s);
    s.on('connect', () => this.onConnect());
    if (!readShared(s, (d) => this.onSharedData(d))) s.on('data', (d: Buffer) => this.onData(d));
    s.on('end', () => this.onEnd());
    s.on('error', (e) => this.onError(e));
    s.on('close', () => this.onClose());
    s.on('drain', () => this.sink?.onUpstreamDrain());
    if (connectTimeoutMs > 0) this.connectTimer = setTimeout(onConnectTimeout, connectTimeoutMs, this);
  }

  /** IdleTracked (the pool's idle_timeout sweep): since when the connection sits idle, or -1. */
  idleSince = -1;

  onIdleTimeout(): void {
    if (this.st === St.Idle) this.destroy();
  }


  /** Claims the idle connection for one request. */
  attach(sink: UpstreamResponseSink): void {
    this.st = St.Busy;
    this.hasStream = true;
    this.sink = sink;
    this.rx = Rx.Head;
    this.reqDone = false;
    this.requests++;
    this.idleSince = -1;
  }

  // ---- UpstreamStream (request side)
  sendHeaders(head: RequestHead, endStream: boolean): void {
    const h = head.headers;
    this.reqHead = head.method === 'HEAD';
    let extra = '';
    if (h.has('upgrade')) {
      extra = 'connection: upgrade\r\n';
      this.reqChunked = false;
    } else if (endStream) {
      this.reqChunked = false;
      if (!h.has('content-length') && (head.method === 'POST' || head.method === 'PUT' || head.method === 'PATCH')) extra = 'content-length: 0\r\n';
    } else {
      this.reqChunked = !h.has('content-length');
      if (this.reqChunked) extra = 'transfer-encoding: chunked\r\n';
    }
    // One write per request head; a body is written as it comes (most requests have none).
    // A request that ends with its head is held for the end of the poll phase (write_batch.ts).
    const text = `${head.method} ${head.path} HTTP/1.1\r\nhost: ${head.authority}\r\n${serializeHeaders(h)}${extra}\r\n`;
    if (endStream) {
      this.out.defer(text);
      this.reqDone = true;
    } else this.out.write(text);
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    const out = this.out;
    let ok = true;
    if (this.reqChunked) {
      if (chunk.length > 0) {
        out.write(chunkHeader(chunk.length));
        out.write(chunk);
        ok = out.write(endStream ? '\r\n' + LAST_CHUNK : '\r\n');
      } else if (endStream) ok = out.write(LAST_CHUNK);
    } else if (chunk.length > 0) ok = out.write(chunk);
    if (endStream) {
      this.reqDone = true;
      if (this.rx === Rx.Upgraded) out.end();
      this.maybeDone();
    }
    return ok;
  }

  sendTrailers(trailers: HeaderMap): void {
    if (this.reqChunked) this.out.write('0\r\n' + serializeHeaders(trailers) + '\r\n');
    this.reqDone = true;
    this.maybeDone();
  }

  reset(): void {
    this.sink = null;
    this.destroy();
  }

  pauseResponse(): void {
    this.socket.pause();
  }
  resumeResponse(): void {
    this.socket.resume();
  }

  // ---- socket events
  private onConnect(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.st = St.Idle;
    this.idleSince = Date.now();
    this.owner.onConnected(this);
  }

  /**
   * A read into the shared buffer (shared_reads.ts): a response head is parsed in place;
   * whatever is kept past this call (the rest of a read, body bytes) is copied.
   */
  private onSharedData(d: Buffer): void {
    if (this.rx !== Rx.Head || this.pending !== null) return this.onData(Buffer.from(d));
    this.onData(d);
    if (this.pending !== null) this.pending = keepable(this.pending);
  }

  private onData(d: Buffer): void {
    this.bytesReceived += d.length;
    if (this.st !== St.Busy || this.sink === null) {
      // Bytes with no request in flight: the server is confused; do not reuse it.
      this.destroy();
      return;
    }
    if (this.rx === Rx.Upgraded || this.rx === Rx.UntilClose) {
      this.sink.onResponseData(d, false);
      return;
    }
    this.pending = this.pending === null ? d : Buffer.concat([this.pending, d]);
    try {
      while (this.pending !== null && this.pending.length > 0 && this.st === St.Busy) {
        const rx = this.rx as Rx;
        if (rx === Rx.Head) {
          if (!this.parseHead()) return;
        } else if (rx === Rx.Body) this.feedBody();
        else if (rx === Rx.Upgraded || rx === Rx.UntilClose) {
          const rest = this.pending;
          this.pending = null;
          this.sink?.onResponseData(rest, false);
        } else {
          // Extra bytes after a complete response.
          this.keepAlive = false;
          this.pending = null;
        }
      }
    } catch (e) {
      this.failResponse('protocol_error', (e as Error).message);
    }
  }

  private parseHead(): boolean {
    const buf = this.pending!;
    const text = readHead(buf, 0);
    if (text === null) {
      if (buf.length > MAX_RESPONSE_HEAD) throw new ParseError('response headers too large');
      return false;
    }
    const end = text.length + 4;
    this.pending = end === buf.length ? null : keepable(buf.subarray(end));
    let slEnd = text.indexOf('\r\n');
    if (slEnd === -1) slEnd = text.length;
    const sl = slEnd === text.length ? text : text.slice(0, slEnd);
    const minor = statusLineMinor(sl);
    if (minor === -1) throw new ParseError('malformed status line');
    const status = (sl.charCodeAt(9) - 48) * 100 + (sl.charCodeAt(10) - 48) * 10 + (sl.charCodeAt(11) - 48);
    const fr = newFraming();
    const headers = new HeaderMap();
    parseHeaderBlock(text, slEnd + 2, headers, fr, Infinity);
    this.keepAlive = minor === 1 ? !fr.close : fr.keepAlive && !fr.close;
    const head: ResponseHead = { status, headers };
    const sink = this.sink!;
    if (status >= 100 && status < 200 && status !== 101) {
      sink.onInformational?.(head);
      return true; // the final response follows
    }
    if (status === 101) {
      this.rx = Rx.Upgraded;
      this.keepAlive = false;
      sink.onResponseHeaders(head, false);
      return true;
    }
    if (this.reqHead || statusHasNoBody(status)) {
      this.rx = Rx.Done;
      sink.onResponseHeaders(head, true);
      this.maybeDone();
      return true;
    }
    if (fr.chunked) {
      this.rx = Rx.Body;
      this.chunked = new ChunkedDecoder(this);
      sink.onResponseHeaders(head, false);
    } else if (fr.contentLength >= 0) {
      if (fr.contentLength === 0) {
        this.rx = Rx.Done;
        sink.onResponseHeaders(head, true);
        this.maybeDone();
        return true;
      }
      this.rx = Rx.Body;
      this.bodyRemaining = fr.contentLength;
      sink.onResponseHeaders(head, false);
    } else {
      this.rx = Rx.UntilClose;
      this.keepAlive = false;
      sink.onResponseHeaders(head, false);
    }
    return true;
  }

  private feedBody(): void {
    const buf = this.pending!;
    if (this.chunked !== null) {
      const used = this.chunked.feed(buf, 0);
      this.pending = used === buf.length ? null : buf.subarray(used);
      return;
    }
    const take = Math.min(this.bodyRemaining, buf.length);
    const piece = take === buf.length ? buf : buf.subarray(0, take);
    this.pending = take === buf.length ? null : buf.subarray(take);
    this.bodyRemaining -= take;
    if (this.bodyRemaining === 0) {
      this.rx = Rx.Done;
      this.sink!.onResponseData(piece, true);
      this.maybeDone();
    } else this.sink!.onResponseData(piece, false);
  }

  onChunkData(data: Buffer): void {
    this.sink?.onResponseData(data, false);
  }

  onChunkedEnd(trailers: HeaderMap | null): void {
    this.chunked = null;
    this.rx = Rx.Done;
    if (trailers !== null) this.sink?.onResponseTrailers(trailers);
    else this.sink?.onResponseData(EMPTY, true);
    this.maybeDone();
  }

  /** Both directions are done: give the connection back. */
  private maybeDone(): void {
    if (this.rx !== Rx.Done || this.st !== St.Busy) return;
    if (!this.reqDone) {
      // The server answered before the request body was sent (e.g. early 413): the rest of
      // the body can't be sent on this connection any more.
      this.keepAlive = false;
    }
    this.sink = null;
    this.hasStream = false;
    const reusable = this.keepAlive && this.pending === null;
    if (reusable) {
      this.st = St.Idle;
      this.idleSince = Date.now();
    }
    this.owner.onStreamDone(this, reusable);
    if (!reusable) this.destroy();
  }

  private onEnd(): void {
    if (this.st === St.Busy && this.sink !== null) {
      if (this.rx === Rx.UntilClose || this.rx === Rx.Upgraded) {
        const sink = this.sink;
        if (this.rx === Rx.UntilClose) {
          this.rx = Rx.Done;
          this.reqDone = true;
          sink.onResponseData(EMPTY, true);
          this.maybeDone();
        } else {
          // Upgraded tunnel: pass the half-close on; the downstream decides when to finish.
          sink.onResponseData(EMPTY, true);
          if (this.reqDone) this.destroy();
        }
        return;
      }
      this.failResponse('connection_termination', 'upstream closed the connection');
      return;
    }
    this.destroy();
  }

  private onError(e: Error): void {
    if (this.st === St.Connecting) {
      this.st = St.Closed;
      this.owner.onConnectFailed(this, (e as NodeJS.ErrnoException).code ?? e.message);
      return;
    }
    this.failResponse('connection_termination', (e as NodeJS.ErrnoException).code ?? e.message);
  }

  private failResponse(reason: ResetReason, detail: string): void {
    const sink = this.sink;
    this.sink = null;
    this.destroy();
    sink?.onUpstreamReset(reason, detail);
  }

  private onClose(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const wasConnecting = this.st === St.Connecting;
    this.st = St.Closed;
    if (wasConnecting) {
      this.owner.onConnectFailed(this, 'connection closed');
      return;
    }
    if (this.sink !== null) {
      const sink = this.sink;
      this.sink = null;
      sink.onUpstreamReset('connection_termination', 'upstream connection closed');
    }
    this.owner.onClosed(this);
  }

  destroy(): void {
    if (this.st === St.Closed && this.socket.destroyed) return;
    if (this.st !== St.Connecting) this.st = St.Closed;
    this.out.discard();
    this.socket.destroy();
  }

  connectTimedOut(): void {
    this.connectTimer = null;
    if (this.st !== St.Connecting) return;
    this.st = St.Closed;
    this.socket.destroy();
    this.owner.onConnectFailed(this, 'connect timeout');
  }
}

/**
 * Checks a status line, `HTTP/1.x NNN[ reason]` (RFC 9112 §4), without a regex (this runs
 * per response); returns x (0 or 1), or -1 when the line is malformed.
 */
function statusLineMinor(l: string): number {
  if (l.length < 12 || !l.startsWith('HTTP/1.') || l.charCodeAt(8) !== 32) return -1;
  const minor = l.charCodeAt(7) - 48;
  if (minor !== 0 && minor !== 1) return -1;
  for (let i = 9; i < 12; i++) {
    const c = l.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  if (l.length > 12 && l.charCodeAt(12) !== 32) return -1;
  for (let i = 13; i < l.length; i++) {
    const c = l.charCodeAt(i);
    if (c === 10 || c === 13) return -1;
  }
  return minor;
}

function onConnectTimeout(c: H1ClientConnection): void {
  c.connectTimedOut();
}

