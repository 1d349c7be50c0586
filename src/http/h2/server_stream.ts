// One downstream HTTP/2 stream as a DownstreamStream. Event handlers are shared functions
// that find their owner through a symbol on the node:http2 stream, so a request costs one
// object here rather than a closure per event (design convention 6); see stream_events.ts.
import type { Socket } from 'node:net';
import { connectionInfo, type ConnectionInfo } from '../../listeners/connection_info';
import * as http2 from 'node:http2';
import { HeaderMap } from '../headers';
import type { DownstreamStream, RequestBodySink, RequestHead, ResponseHead } from '../stream';
import { fromRawHeaders, toH2Headers, trailersToH2, type H2HeaderObject } from './headers';
import { bindStreamEvents, sendHeldTrailers, type H2StreamEvents } from './stream_events';

/** What the stream needs from its connection. */
export interface H2StreamOwner {
  readonly socket: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number };
  streamClosed(): void;
  /** The session was destroyed (socket loss, protocol error), not just this stream. */
  readonly sessionGone: boolean;
}

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;
const EMPTY = Buffer.alloc(0);

export class H2ServerStream implements DownstreamStream, H2StreamEvents {
  sink: RequestBodySink | null = null;
  requestEnded: boolean;
  private readonly endedAtHeaders: boolean;
  private responseStarted = false;
  /** Our side has ended (END_STREAM queued) or was reset. */
  private responseDone = false;
  private localReset = false;
  private closeAfter = false;
  private isClosed = false;
  private trailers: H2HeaderObject | null = null;
  private requestTrailers: HeaderMap | null = null;

  constructor(
    private readonly conn: H2StreamOwner,
    readonly stream: http2.ServerHttp2Stream,
    readonly head: RequestHead,
    ended: boolean,
  ) {
    this.requestEnded = ended;
    this.endedAtHeaders = ended;
    bindStreamEvents(stream, this);
  }

  get remoteAddress(): string {
    return this.conn.socket.remoteAddress ?? '';
  }
  get remotePort(): number {
    return this.conn.socket.remotePort ?? 0;
  }
  get connectionInfo(): ConnectionInfo | undefined {
    return connectionInfo(this.conn.socket as Socket);
  }
  get localAddress(): string {
    return this.connectionInfo?.localAddress ?? this.conn.socket.localAddress ?? '';
  }
  get localPort(): number {
    return this.connectionInfo?.localPort ?? this.conn.socket.localPort ?? 0;
  }

  sendHeaders(head: ResponseHead, endStream: boolean): void {
    if (this.responseStarted || this.isClosed) return;
    this.responseStarted = true;
    const status = head.status;
    // 101 has no meaning in HTTP/2 (RFC 9113 §8.6); an upstream upgrade can't be relayed.
    if (status < 200) return this.reset();
    const m = this.head.method;
    const noBody = endStream || m === 'HEAD' || status === 204 || status === 205 || status === 304;
    try {
      const h = toH2Headers(head.headers, { ':status': status });
      // waitForTrailers keeps END_STREAM back until 'wantTrailers', so gRPC's grpc-status
      // can follow the body as a real trailing HEADERS frame.
      this.stream.respond(h, { endStream: noBody, waitForTrailers: !noBody });
    } catch {
      // Header values node:http2 refuses (invalid characters): nothing valid can be sent.
      return this.reset();
    }
    if (noBody) this.responseEnded();
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    if (this.responseDone || this.isClosed) return true;
    let ok = true;
    if (chunk.length > 0) ok = this.stream.write(chunk);
    if (endStream) {
      this.stream.end(); // 'wantTrailers' then ends the stream with an empty DATA frame
      this.responseEnded();
    }
    return ok;
  }

  sendTrailers(trailers: HeaderMap): void {
    if (this.responseDone || this.isClosed) return;
    this.trailers = trailersToH2(trailers);
    this.stream.end();
    this.responseEnded();
  }

  reset(): void {
    this.localReset = true;
    this.responseDone = true;
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  pauseRequest(): void {
    this.stream.pause();
  }
  resumeRequest(): void {
    this.stream.resume();
  }

  /** HTTP/2 closes streams, not the connection: a request body still coming is refused after the response. */
  closeAfterResponse(): void {
    this.closeAfter = true;
  }

  private responseEnded(): void {
    this.responseDone = true;
    // RFC 9113 §8.1: after a complete response the server may stop an unfinished request
    // with RST_STREAM(NO_ERROR); node:http2 sends it once the queued response is written.
    if (this.closeAfter && !this.requestEnded && !this.stream.closed) this.stream.close(NGHTTP2_NO_ERROR);
  }

  // ---- node:http2 stream events (called with the owner found via OWNER)
  onData(chunk: Buffer): void {
    this.sink?.onRequestData(chunk, false);
  }

  onTrailers(raw: string[]): void {
    const t = new HeaderMap();
    fromRawHeaders(raw, t);
    this.requestTrailers = t;
  }

  onEnd(): void {
    if (this.endedAtHeaders) return;
    this.requestEnded = true;
    // Trailers arrive as an event ahead of body bytes still buffered in a paused stream;
    // they are passed on here, after the last byte.
    const t = this.requestTrailers;
    if (t !== null) this.sink?.onRequestTrailers(t);
    else this.sink?.onRequestData(EMPTY, true);
  }

  onDrain(): void {
    this.sink?.onDownstreamDrain();
  }

  onWantTrailers(): void {
    const held = this.trailers;
    this.trailers = null;
    if (!sendHeldTrailers(this.stream, held)) this.reset();
  }

  onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.conn.streamClosed();
    // After our END_STREAM the exchange is complete as far as the proxy is concerned.
    if (this.localReset || this.responseDone) return;
    const sink = this.sink;
    this.sink = null;
    // A RST_STREAM from the client is a remote reset; streams of a session that was torn
    // down (socket loss, protocol error) end with the connection.
    const sessionGone = this.conn.sessionGone;
    sink?.onDownstreamReset(sessionGone ? 'connection_termination' : 'remote_reset');
  }
}
