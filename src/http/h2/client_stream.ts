// One request on an upstream HTTP/2 session, as the router drives it (UpstreamStream).
// Handlers are shared functions that find their owner through a symbol on the node:http2
// stream; those the server side has too live in stream_events.ts.
import * as http2 from 'node:http2';
import { HeaderMap } from '../headers';
import type { HeaderMap as Headers } from '../headers';
import type { RequestHead, ResetReason, UpstreamResponseSink, UpstreamStream } from '../stream';
import type { H2ClientSession } from './client';
import { fromRawHeaders, pseudo, toH2Headers, trailersToH2, type H2HeaderObject } from './headers';
import { OWNER, bindStreamEvents, sendHeldTrailers, type H2StreamEvents, type Tagged as TaggedStream } from './stream_events';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const EMPTY = Buffer.alloc(0);

type Tagged = TaggedStream<http2.ClientHttp2Stream, H2UpstreamStream>;

export class H2UpstreamStream implements UpstreamStream, H2StreamEvents {
  private req: http2.ClientHttp2Stream | null = null;
  private trailers: H2HeaderObject | null = null;
  private responseTrailers: Headers | null = null;
  private endedAtHeaders = false;
  /** The response reached the router in full, or the stream was reset: no more events. */
  private finished = false;
  private released = false;

  constructor(
    private readonly sess: H2ClientSession,
    private sink: UpstreamResponseSink | null,
  ) {}

  sendHeaders(head: RequestHead, endStream: boolean): void {
    if (this.req !== null || this.finished) return;
    const h = toH2Headers(head.headers, {
      ':method': head.method,
      ':path': head.path,
      ':authority': head.authority,
      ':scheme': 'http',
    });
    let req: http2.ClientHttp2Stream;
    try {
      // waitForTrailers: request trailers (gRPC clients rarely send them, but may) need the
      // END_STREAM held back until 'wantTrailers'.
      req = this.sess.session.request(h, { endStream, waitForTrailers: !endStream });
    } catch (e) {
      // The session went away between pool assignment and now (GOAWAY race), or node
      // refused the headers. Reported on the next tick: the router is still inside onPoolReady.
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const reason: ResetReason = code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_GOAWAY_SESSION' ? 'connection_termination' : 'protocol_error';
      process.nextTick(failLater, this, reason, (e as Error).message);
      return;
    }
    this.req = req;
    bindStreamEvents(req, this);
    req.on('response', onResponse);
    req.on('headers', onInformational);
    req.on('error', noop);
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    const req = this.req;
    if (req === null || req.writableEnded || req.destroyed) return true;
    let ok = true;
    if (chunk.length > 0) ok = req.write(chunk);
    if (endStream) req.end();
    return ok;
  }

  sendTrailers(trailers: Headers): void {
    const req = this.req;
    if (req === null || req.writableEnded || req.destroyed) return;
    this.trailers = trailersToH2(trailers);
    req.end();
  }

  reset(): void {
    this.finished = true;
    this.sink = null;
    const req = this.req;
    if (req !== null && !req.closed && !req.destroyed) req.close(NGHTTP2_CANCEL);
    else this.release();
  }

  pauseResponse(): void {
    this.req?.pause();
  }
  resumeResponse(): void {
    this.req?.resume();
  }

  /** Gives the stream slot back to the session exactly once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.sess.streamDone();
  }

  fail(reason: ResetReason, detail: string): void {
    const sink = this.sink;
    this.sink = null;
    const wasFinished = this.finished;
    this.finished = true;
    this.release();
    if (!wasFinished) sink?.onUpstreamReset(reason, detail);
  }

  // ---- node:http2 events
  onResponse(raw: string[], flags: number): void {
    if (this.finished) return;
    const status = Number(pseudo(raw, ':status'));
    const headers = new HeaderMap();
    fromRawHeaders(raw, headers);
    const end = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    this.endedAtHeaders = end;
    if (end) this.finished = true;
    // A trailers-only response (gRPC errors) ends here, grpc-status in these headers.
    this.sink?.onResponseHeaders({ status, headers }, end);
  }

  onInformational(raw: string[]): void {
    const status = Number(pseudo(raw, ':status'));
    if (status >= 100 && status < 200) {
      const headers = new HeaderMap();
      fromRawHeaders(raw, headers);
      this.sink?.onInformational?.({ status, headers });
    }
  }

  onData(chunk: Buffer): void {
    if (!this.finished) this.sink?.onResponseData(chunk, false);
  }

  onTrailers(raw: string[]): void {
    const t = new HeaderMap();
    fromRawHeaders(raw, t);
    this.responseTrailers = t;
  }

  onEnd(): void {
    if (this.endedAtHeaders || this.finished) return;
    this.finished = true;
    // Trailers are passed on only after the last body byte (they are reported ahead of
    // bytes still buffered while the stream is paused).
    const t = this.responseTrailers;
    if (t !== null) this.sink?.onResponseTrailers(t);
    else this.sink?.onResponseData(EMPTY, true);
  }

  onDrain(): void {
    this.sink?.onUpstreamDrain();
  }

  onWantTrailers(): void {
    const held = this.trailers;
    this.trailers = null;
    if (!sendHeldTrailers(this.req, held)) this.reset();
  }

  onClose(): void {
    const req = this.req!;
    if (this.finished) return this.release();
    const code = req.rstCode ?? 0;
    const session = this.sess.session;
    let reason: ResetReason;
    if (code === NGHTTP2_REFUSED_STREAM) reason = 'refused_stream';
    else if (session.destroyed || session.closed) reason = 'connection_termination';
    else reason = 'remote_reset';
    this.fail(reason, `http2 stream closed (rst ${code})`);
  }
}

function failLater(s: H2UpstreamStream, reason: ResetReason, detail: string): void {
  s.fail(reason, detail);
}

function noop(): void {}

function onResponse(this: Tagged, _h: unknown, flags: number, raw: string[]): void {
  this[OWNER]?.onResponse(raw, flags);
}
function onInformational(this: Tagged, _h: unknown, _flags: number, raw: string[]): void {
  this[OWNER]?.onInformational(raw);
}
