// Downstream HTTP/1.1 codec: bytes from a client socket → DownstreamStream calls, and
// responses back into bytes. One request at a time; pipelined requests wait in the
// buffer (the socket is paused) until the response before them is done, so responses
// go out in order (RFC 9112 §9.3.2).
import { connectionInfo, type ConnectionInfo } from '../../listeners/connection_info';
import type { Socket } from 'node:net';
import { HeaderMap } from '../headers';
import type { DownstreamStream, HttpProtocol, RequestBodySink, RequestHead, ResponseHead } from '../stream';
import type { IdleSweeper, IdleTracked } from '../../util/idle_sweeper';
import { ChunkedDecoder, chunkHeader, LAST_CHUNK, type ChunkSink } from './chunked';
import { writeHeadAndBody } from './write';
import { BatchedWriter, DEFER_LIMIT } from './write_batch';
import { keepable, readShared } from './shared_reads';
import { isToken, newFraming, ParseError, parseHeaderBlock, readHead, reasonPhrase, serializeHeaders, statusHasNoBody, type Framing } from './parse';

export interface H1ServerOptions {
  /** max_request_headers_kb × 1024: a larger head gets 431. */
  maxHeaderBytes: number;
  scheme: 'http' | 'https';
  /** Called for each parsed request head; must set `stream.sink` synchronously. */
  onRequest(stream: H1ServerStream): void;
  /** A request that could not be parsed: the codec answers it and closes. */
  onProtocolError(status: number, reason: string): void;
  /** common_http_protocol_options.idle_timeout: closes connections with no request for that long. */
  idleSweeper: IdleSweeper;
  /** Server-side close after the connection drains (listener drain, max_connection_duration). */
  onClose(conn: H1ServerConnection): void;
  /** common_http_protocol_options.max_headers_count: more headers get 431. */
  maxHeadersCount: number;
  /** request_headers_timeout: a head not complete this long after its first byte gets 408 (0 = off). */
  requestHeadersTimeoutMs: number;
  /** max_requests_per_connection: close after this many requests (0 = unlimited). */
  maxRequestsPerConnection: number;
  /** http_protocol_options.allow_absolute_url (default true). */
  allowAbsoluteUrl: boolean;
  /** http_protocol_options.enable_trailers: HTTP/1.1 trailers pass through only when set (Envoy drops them by default). */
  enableTrailers: boolean;
}

const enum St {
  Head,
  Body,
  Waiting, // request complete, response in progress
  Upgraded,
  Closed,
}

const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n';
/** RFC 3986 authority without userinfo: reg-name or IPv4, or an [IPv6] literal, then an optional port. */
const VALID_AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d*)?$/;

export class H1ServerConnection implements IdleTracked {
  private st = St.Head;
  private headTimer: NodeJS.Timeout | null = null;
  private pending: Buffer | null = null;
  private stream: H1ServerStream | null = null;
  private bodyRemaining = 0;
  private chunked: ChunkedDecoder | null = null;
  draining = false;
  requestCount = 0;
  /** The client half-closed an upgraded (tunnelled) connection. */
  private clientEnded = false;
  /** Every write to the socket goes through here (write_batch.ts keeps them in order). */
  readonly out: BatchedWriter;
  /**
   * The connection's addresses and listener info, read once at its first request (they
   * do not change; reading them through the socket's getters and its symbol-keyed info
   * on every request was a measurable cost).
   */
  private addrsRead = false;
  /** The last Host value found valid on this connection. */
  private lastAuthority = '';
  remoteAddress = '';
  remotePort = 0;
  localAddress = '';
  localPort = 0;
  info: ConnectionInfo | undefined = undefined;

  constructor(
    readonly socket: Socket,
    private readonly opts: H1ServerOptions,
  ) {
    this.out = new BatchedWriter(socket);
    if (!readShared(socket, (d) => this.onSharedData(d))) socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onSocketClose());
    socket.on('error', () => {});
    socket.on('drain', () => this.stream?.sink?.onDownstreamDrain());
    opts.idleSweeper.add(this);
  }

  /** IdleTracked: when the connection went idle (no request in progress), or -1. */
  idleSince = Date.now();

  onIdleTimeout(): void {
    if (this.stream === null) this.close();
  }

  /** Bytes already read from the socket (by protocol detection) before the codec took over. */
  feed(initial: Buffer): void {
    this.onData(initial);
  }

  /**
   * Listener drain: every later response carries `Connection: close` and the connection
   * closes after it. An idle keep-alive connection stays open until its next request or
   * the end of the drain period, as in Envoy, so a client racing the drain is still served.
   */
  drain(): void {
    this.draining = true;
  }

  close(): void {
    if (this.st === St.Closed) return;
    this.st = St.Closed;
    this.out.end();
    this.socket.destroySoon();
  }

  get active(): boolean {
    return this.stream !== null;
  }

  /**
   * A read into the shared buffer (shared_reads.ts): a request head is parsed in place;
   * whatever is kept past this call (the rest of a read, body bytes) is copied.
   */
  private onSharedData(d: Buffer): void {
    if (this.st !== St.Head || (this.pending !== null && this.pending.length > 0)) return this.onData(Buffer.from(d));
    this.onData(d);
    if (this.pending !== null) this.pending = keepable(this.pending);
  }

  private onData(d: Buffer): void {
    if (this.st === St.Upgraded) {
      this.stream?.sink?.onRequestData(d, false);
      return;
    }
    this.pending = this.pending === null || this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    this.process();
  }

  private process(): void {
    while (this.pending !== null && this.pending.length > 0) {
      if (this.st === St.Head) {
        if (!this.parseHead()) return;
      } else if (this.st === St.Body) {
        this.feedBody();
      } else if (this.st === St.Waiting) {
        // A pipelined request: keep it until the response before it is done.
        this.socket.pause();
        return;
      } else if (this.st === St.Upgraded) {
        const rest = this.pending;
        this.pending = null;
        this.stream?.sink?.onRequestData(rest, false);
        return;
      } else return;
    }
  }

  /** Returns false when more bytes are needed (or the connection failed). */
  private parseHead(): boolean {
    const buf = this.pending!;
    if (this.headTimer === null && this.opts.requestHeadersTimeoutMs > 0) {
      this.headTimer = setTimeout(onHeadersTimeout, this.opts.requestHeadersTimeoutMs, this);
    }
    // Tolerate empty lines before a request line (RFC 9112 §2.2).
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
    const text = readHead(buf, start);
    if (text === null) {
      if (buf.length - start > this.opts.maxHeaderBytes) this.protocolError(431, 'request headers too large');
      return false;
    }
    const end = start + text.length + 4;
    if (end - start > this.opts.maxHeaderBytes) {
      this.protocolError(431, 'request headers too large');
      return false;
    }
    let stream: H1ServerStream;
    const fr = newFraming(true);
    try {
      stream = this.parseRequest(text, fr);
    } catch (e) {
      const pe = e instanceof ParseError ? e : new ParseError(String(e));
      this.protocolError(pe.status, pe.message);
      return false;
    }
    this.pending = end === buf.length ? null : keepable(buf.subarray(end));
    this.idleSince = -1;
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
    if (!this.addrsRead) this.readAddrs();
    this.stream = stream;
    this.requestCount++;
    const maxRq = this.opts.maxRequestsPerConnection;
    if (maxRq > 0 && this.requestCount >= maxRq) stream.keepAlive = false;
    if (fr.upgrade !== '') {
      this.st = St.Upgraded;
      stream.upgrade = fr.upgrade;
    } else if (fr.chunked) {
      this.st = St.Body;
      this.chunked = new ChunkedDecoder(stream);
    } else if (fr.contentLength > 0) {
      this.st = St.Body;
      this.bodyRemaining = fr.contentLength;
    } else {
      this.st = St.Waiting;
      stream.requestEnded = true;
    }
    if (stream.expectContinue && this.st === St.Body) this.out.write(CONTINUE_100);
    this.opts.onRequest(stream);
    if (this.st === St.Upgraded && this.pending !== null) {
      const rest = this.pending;
      this.pending = null;
      stream.sink?.onRequestData(rest, false);
    }
    return true;
  }

  private parseRequest(head: string, fr: Framing): H1ServerStream {
    let rlEnd = head.indexOf('\r\n');
    if (rlEnd === -1) rlEnd = head.length;
    const rl = rlEnd === head.length ? head : head.slice(0, rlEnd);
    const sp1 = rl.indexOf(' ');
    const sp2 = rl.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 === sp1) throw new ParseError('malformed request line');
    const method = rl.slice(0, sp1);
    const target = rl.slice(sp1 + 1, sp2);
    const version = rl.slice(sp2 + 1);
    if (!isToken(method)) throw new ParseError('invalid method');
    let protocol: HttpProtocol;
    if (version === 'HTTP/1.1') protocol = 'HTTP/1.1';
    else if (version === 'HTTP/1.0') protocol = 'HTTP/1.0';
    else if (/^HTTP\/\d\.\d$/.test(version)) throw new ParseError('unsupported HTTP version', 505);
    else throw new ParseError('malformed request line');
    if (target.length === 0 || target.includes(' ')) throw new ParseError('malformed request target');
    const headers = new HeaderMap();
    parseHeaderBlock(head, rlEnd + 2, headers, fr, this.opts.maxHeadersCount);
    let authority = fr.host;
    let path = target;
    if (target.charCodeAt(0) !== 47 /* / */) {
      if (!this.opts.allowAbsoluteUrl && target !== '*') throw new ParseError('absolute URLs are not allowed');
      // absolute-form (RFC 9112 §3.2.2): the target's authority wins over Host.
      const m = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(target);
      if (m) {
        authority = m[1];
        path = m[2] || '/';
      } else if (target !== '*' || method !== 'OPTIONS') {
        if (method === 'CONNECT') throw new ParseError('CONNECT is not supported', 405);
        throw new ParseError('malformed request target');
      }
    }
    if (authority === undefined) {
      if (protocol === 'HTTP/1.1') throw new ParseError('missing host header');
      authority = '';
    } else if (authority !== this.lastAuthority) {
      // Keep-alive clients repeat the same Host: check it once per connection.
      if (!VALID_AUTHORITY.test(authority)) throw new ParseError('invalid host');
      this.lastAuthority = authority;
    }
    const s = new H1ServerStream(this, {
      method,
      path,
      authority,
      scheme: this.opts.scheme,
      protocol,
      headers,
    });
    s.keepAlive = protocol === 'HTTP/1.1' ? !fr.close : fr.keepAlive && !fr.close;
    const expect = headers.get('expect');
    if (expect !== undefined && expect.toLowerCase() === '100-continue' && protocol === 'HTTP/1.1') {
      // Envoy answers 100-continue itself by default (proxy_100_continue: false) and strips Expect.
      s.expectContinue = true;
      headers.remove('expect');
    }
    return s;
  }

  private feedBody(): void {
    const buf = this.pending!;
    const s = this.stream!;
    if (this.chunked !== null) {
      let used: number;
      try {
        used = this.chunked.feed(buf, 0);
      } catch (e) {
        this.protocolError(400, (e as Error).message);
        return;
      }
      this.pending = used === buf.length ? null : buf.subarray(used);
      if (this.chunked.done) {
        this.chunked = null;
        this.st = St.Waiting;
      }
      return;
    }
    const take = Math.min(this.bodyRemaining, buf.length);
    const piece = take === buf.length ? buf : buf.subarray(0, take);
    this.pending = take === buf.length ? null : buf.subarray(take);
    this.bodyRemaining -= take;
    const end = this.bodyRemaining === 0;
    if (end) {
      this.st = St.Waiting;
      s.requestEnded = true;
    }
    s.sink?.onRequestData(piece, end);
  }

  private protocolError(status: number, reason: string): void {
    this.opts.onProtocolError(status, reason);
    if (this.stream !== null && this.stream.responseStarted) {
      this.socket.destroy();
      return;
    }
    if (this.stream !== null) this.stream.sink?.onDownstreamReset('protocol_error');
    this.stream = null;
    this.pending = null;
    const body = reason + '\n';
    this.out.write(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
    );
    this.close();
  }

  private onEnd(): void {
    // Client half-closed. A request still being read is incomplete: reset it. Otherwise
    // finish the response in progress (allowHalfOpen) and close after it.
    const s = this.stream;
    if (this.st === St.Upgraded) {
      // Tunnel: pass the client's half-close on to the upstream.
      this.clientEnded = true;
      s?.sink?.onRequestData(EMPTY, true);
      return;
    }
    if (s === null) {
      this.close();
      return;
    }
    if (this.st === St.Body || this.st === St.Head) {
      this.stream = null;
      s.sink?.onDownstreamReset('connection_termination');
      this.socket.destroy();
      return;
    }
    s.keepAlive = false;
  }

  /** request_headers_timeout fired: answer 408 and close. */
  headersTimedOut(): void {
    this.headTimer = null;
    if (this.st !== St.Head) return;
    this.protocolError(408, 'request headers timeout');
  }

  get trailersEnabled(): boolean {
    return this.opts.enableTrailers;
  }

  private onSocketClose(): void {
    if (this.headTimer !== null) clearTimeout(this.headTimer);
    this.opts.idleSweeper.delete(this);
    const upgradedOpen = this.st === St.Upgraded && !this.clientEnded;
    this.st = St.Closed;
    const s = this.stream;
    this.stream = null;
    if (s !== null && (!s.responseDone || upgradedOpen)) s.sink?.onDownstreamReset('connection_termination');
    this.opts.onClose(this);
  }

  /** Called by the stream when its response is fully written. */
  responseComplete(s: H1ServerStream): void {
    if (this.stream !== s) return;
    if (this.st === St.Upgraded) {
      if (s.responseStatus === 101) {
        // Tunnel: the upstream half-closed; pass it on and keep reading until the client's
        // FIN, after which Node closes the socket (allowHalfOpen on both ways).
        this.out.end();
        return;
      }
      this.stream = null;
      this.close();
      return;
    }
    if (this.st !== St.Waiting || !s.keepAlive || this.draining) {
      // Response before the request finished (early reply), or the connection must close.
      this.stream = null;
      this.close();
      return;
    }
    this.stream = null;
    this.st = St.Head;
    this.idleSince = Date.now();
    this.socket.resume();
    if (this.pending !== null) this.process();
  }

  private readAddrs(): void {
    this.addrsRead = true;
    const sock = this.socket;
    const info = connectionInfo(sock);
    this.info = info;
    this.remoteAddress = sock.remoteAddress ?? '';
    this.remotePort = sock.remotePort ?? 0;
    this.localAddress = info?.localAddress ?? sock.localAddress ?? '';
    this.localPort = info?.localPort ?? sock.localPort ?? 0;
  }

  enterUpgraded(): void {
    this.st = St.Upgraded;
  }
}

export class H1ServerStream implements DownstreamStream, ChunkSink {
  sink: RequestBodySink | null = null;
  requestEnded = false;
  keepAlive = true;
  expectContinue = false;
  /** Upgrade token requested by the client ('websocket'), '' when none. */
  upgrade = '';
  responseStarted = false;
  responseDone = false;
  responseStatus = 0;
  private chunkedResponse = false;
  private pendingHead: string | null = null;
  /** What BatchedWriter.defer returned for pendingHead (to take back exactly that message). */
  private pendingHeadTicket = 0;
  private noBody = false;

  constructor(
    private readonly conn: H1ServerConnection,
    readonly head: RequestHead,
  ) {}

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  get connectionInfo(): ConnectionInfo | undefined {
    return this.conn.info;
  }
  get localAddress(): string {
    return this.conn.localAddress;
  }
  get localPort(): number {
    return this.conn.localPort;
  }

  // ChunkSink (request body)
  onChunkData(data: Buffer): void {
    this.sink?.onRequestData(data, false);
  }
  onChunkedEnd(trailers: HeaderMap | null): void {
    this.requestEnded = true;
    if (trailers !== null && this.conn.trailersEnabled) this.sink?.onRequestTrailers(trailers);
    else this.sink?.onRequestData(EMPTY, true);
  }

  sendHeaders(head: ResponseHead, endStream: boolean): void {
    if (this.responseStarted) return;
    this.responseStarted = true;
    const out = this.conn.out;
    const status = head.status;
    this.responseStatus = status;
    const h = head.headers;
    let extra = '';
    if (status === 101) {
      extra = 'connection: upgrade\r\n';
      this.conn.enterUpgraded();
    } else {
      this.noBody = this.head.method === 'HEAD' || statusHasNoBody(status);
      if (!this.noBody && !h.has('content-length')) {
        if (endStream) extra = 'content-length: 0\r\n';
        else if (this.head.protocol === 'HTTP/1.1') {
          extra = 'transfer-encoding: chunked\r\n';
          this.chunkedResponse = true;
        } else this.keepAlive = false; // HTTP/1.0 without a length: the close delimits the body
      }
      if (!this.keepAlive || this.conn.draining) extra += 'connection: close\r\n';
      else if (this.head.protocol === 'HTTP/1.0') extra += 'connection: keep-alive\r\n';
    }
    const headText = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${serializeHeaders(h)}${extra}\r\n`;
    if (endStream) {
      out.defer(headText);
      this.finish();
      return;
    }
    // Hold the head until the end of the poll phase (write_batch.ts): the body usually
    // follows in the same turn, and one write of head + body is much cheaper than a
    // corked writev of two (see writeHeadAndBody). sendData takes it back if it is still held.
    this.pendingHead = headText;
    this.pendingHeadTicket = out.defer(headText);
  }

  /** Writes a held response head on its own, if it is still held. */
  flushHead(): void {
    const h = this.pendingHead;
    if (h === null) return;
    this.pendingHead = null;
    const out = this.conn.out;
    if (out.takeBack(this.pendingHeadTicket) !== null) out.write(h);
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    const out = this.conn.out;
    let ok = true;
    const held = this.pendingHead;
    let head: string | null = null;
    if (held !== null) {
      this.pendingHead = null;
      head = out.takeBack(this.pendingHeadTicket) === null ? null : held;
    }
    if (head !== null) {
      if (this.noBody || chunk.length === 0) {
        if (endStream && !(this.chunkedResponse && !this.noBody)) {
          out.defer(head);
          this.finish();
          return true;
        }
        out.write(head);
      } else {
        const framing = this.chunkedResponse ? chunkHeader(chunk.length) : '';
        const tail = this.chunkedResponse ? (endStream ? '\r\n' + LAST_CHUNK : '\r\n') : '';
        ok = writeHeadAndBody(out, head + framing, chunk, tail, endStream);
        if (endStream) this.finish();
        return ok;
      }
    }
    if (chunk.length > 0 && !this.noBody) {
      if (this.chunkedResponse) {
        out.write(chunkHeader(chunk.length));
        out.write(chunk);
        ok = out.write(endStream ? '\r\n' + LAST_CHUNK : '\r\n');
        endStream && this.finish();
        return ok;
      }
      if (endStream && chunk.length <= DEFER_LIMIT) out.defer(chunk);
      else ok = out.write(chunk);
    }
    if (endStream) {
      if (this.chunkedResponse && !this.noBody) out.defer(LAST_CHUNK);
      this.finish();
    }
    return ok;
  }

  sendTrailers(trailers: HeaderMap): void {
    this.flushHead();
    if (this.chunkedResponse && !this.noBody) {
      const t = this.conn.trailersEnabled ? serializeHeaders(trailers) : '';
      this.conn.out.write('0\r\n' + t + '\r\n');
    }
    this.finish();
  }

  reset(): void {
    this.responseDone = true;
    this.pendingHead = null;
    this.conn.out.discard();
    this.conn.socket.destroy();
  }

  pauseRequest(): void {
    this.conn.socket.pause();
  }
  resumeRequest(): void {
    this.conn.socket.resume();
  }
  closeAfterResponse(): void {
    this.keepAlive = false;
  }

  private finish(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    this.conn.responseComplete(this);
  }
}

const EMPTY = Buffer.alloc(0);

function onHeadersTimeout(c: H1ServerConnection): void {
  c.headersTimedOut();
}

