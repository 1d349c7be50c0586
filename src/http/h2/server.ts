// Downstream HTTP/2 codec: a node:http2 server session over a socket the listener already
// accepted (and maybe sniffed), each incoming stream presented as a DownstreamStream.
// nghttp2 (inside node:http2) does the framing, HPACK, flow control and most of RFC 9113
// §8.1.1 malformed-message checks (it answers those with RST_STREAM PROTOCOL_ERROR before we
// see a stream); this module adds what the proxy needs on top: head building, request
// checks Envoy makes (missing host → 400), trailers both ways and backpressure.
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { log } from '../../log';
import { HeaderMap } from '../headers';
import type { DownstreamStream } from '../stream';
import { fromRawHeaders, pseudo } from './headers';
import { H2ServerStream } from './server_stream';

/** The part of HcmConfig this codec reads (HcmConfig is structurally assignable to it). */
export interface H2ServerConfig {
  maxRequestHeadersKb: number;
  /** common_http_protocol_options.idle_timeout: close a connection without streams after this long. */
  idleTimeoutMs?: number;
  /** http2_protocol_options as decoded; read leniently (camelCase or proto field names). */
  http2ProtocolOptions?: unknown;
}

export interface H2ServerConnection {
  /** Listener drain: GOAWAY now; open streams finish, then the connection closes. */
  drain(): void;
  close(): void;
  /** At least one stream is open. */
  readonly active: boolean;
}

export interface H2ServerOptions {
  config: H2ServerConfig;
  onStream(s: DownstreamStream): void;
  onClose(): void;
}

// Envoy's default max_concurrent_streams (http2_protocol_options docs).
const ENVOY_MAX_CONCURRENT_STREAMS = 2147483647;
// Envoy defaults both windows to 256 MiB, relying on its watermark buffers. node:http2 holds
// every received byte of a paused stream in memory up to the window, so the defaults here
// are smaller; a configured value is used as given.
const DEFAULT_STREAM_WINDOW = 1024 * 1024;
const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024;
const MAX_WINDOW = 2147483647;

/** A number from a decoded proto field: plain, a wrapper `{value}`, or a numeric string. */
function readNum(o: unknown, camel: string, snake: string): number | undefined {
  if (o === null || typeof o !== 'object') return undefined;
  const rec = o as Record<string, unknown>;
  let v = rec[camel] ?? rec[snake];
  if (v !== null && typeof v === 'object' && 'value' in v) v = (v as { value: unknown }).value;
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

interface Prepared {
  server: http2.Http2Server;
  connectionWindow: number;
}

// One (unlistened) Http2Server per HCM config, built once (design convention 4); every
// accepted socket is handed to it with emit('connection'). Its 'session' event fires
// synchronously inside that emit, which is how the session is matched to its connection.
const prepared = new WeakMap<H2ServerConfig, Prepared>();
let claiming: Conn | null = null;

function prepare(config: H2ServerConfig): Prepared {
  let p = prepared.get(config);
  if (p !== undefined) return p;
  const o = config.http2ProtocolOptions;
  const maxHeaderListSize = Math.max(1, config.maxRequestHeadersKb) * 1024;
  const streamWindow = Math.min(readNum(o, 'initialStreamWindowSize', 'initial_stream_window_size') ?? DEFAULT_STREAM_WINDOW, MAX_WINDOW);
  const connectionWindow = Math.min(readNum(o, 'initialConnectionWindowSize', 'initial_connection_window_size') ?? DEFAULT_CONNECTION_WINDOW, MAX_WINDOW);
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: readNum(o, 'maxConcurrentStreams', 'max_concurrent_streams') ?? ENVOY_MAX_CONCURRENT_STREAMS,
      initialWindowSize: streamWindow,
      maxHeaderListSize,
      enablePush: false,
    },
    // node:http2 answers ENHANCE_YOUR_CALM past this; it must cover the windows we grant
    // plus outbound buffering (bounded by our own backpressure).
    maxSessionMemory: Math.max(32, Math.ceil((connectionWindow * 2) / (1024 * 1024))),
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    const c = claiming;
    claiming = null;
    if (c !== null) c.attach(session);
    else session.destroy();
  });
  server.on('sessionError', () => {}); // the session's own 'close' handles the aftermath
  p = { server, connectionWindow };
  prepared.set(config, p);
  return p;
}

export function startH2ServerConnection(socket: Socket, initial: Buffer | null, opts: H2ServerOptions): H2ServerConnection {
  const p = prepare(opts.config);
  const c = new Conn(socket, opts, p.connectionWindow);
  socket.on('error', noop);
  // Bytes a listener filter already read go back in front; node:http2 feeds whatever is
  // buffered on the socket to nghttp2 before it starts reading from the handle.
  if (initial !== null && initial.length > 0) socket.unshift(initial);
  claiming = c;
  try {
    p.server.emit('connection', socket);
  } catch (e) {
    log.warn('http2 session setup failed', { error: (e as Error).message });
    socket.destroy();
  } finally {
    claiming = null;
  }
  if (c.session === null) c.closed();
  return c;
}

function noop(): void {}

class Conn implements H2ServerConnection {
  session: http2.ServerHttp2Session | null = null;
  private streams = 0;

  get active(): boolean {
    return this.streams > 0;
  }
  private idleTimer: NodeJS.Timeout | null = null;
  private done = false;

  constructor(
    readonly socket: Socket,
    private readonly opts: H2ServerOptions,
    private readonly connectionWindow: number,
  ) {}

  attach(session: http2.ServerHttp2Session): void {
    this.session = session;
    session.on('stream', (stream: http2.ServerHttp2Stream, _h: unknown, flags: number, raw: string[]) => this.onStream(stream, flags, raw));
    session.on('error', noop);
    session.on('close', () => this.closed());
    // The socket is half-open capable (proxied sockets are); HTTP/2 has no half-close, so a
    // client FIN means it sends nothing more: finish what is open, then close.
    this.socket.on('end', () => this.drain());
    try {
      if (this.connectionWindow > 65535) session.setLocalWindowSize(this.connectionWindow);
    } catch {
      // A session that already failed; 'close' follows.
    }
    this.armIdle();
  }

  private onStream(stream: http2.ServerHttp2Stream, flags: number, raw: string[]): void {
    stream.on('error', noop);
    const method = pseudo(raw, ':method') ?? '';
    const path = pseudo(raw, ':path');
    if (method === 'CONNECT') return rejectStream(stream, 405, 'CONNECT is not supported');
    if (path === undefined || path === '') return rejectStream(stream, 400, 'missing :path');
    const headers = new HeaderMap();
    const host = fromRawHeaders(raw, headers);
    const authority = pseudo(raw, ':authority') ?? host;
    // Envoy's HCM refuses requests without a host (ResponseCodeDetails MissingHost).
    if (authority === undefined || authority === '') return rejectStream(stream, 400, 'missing host header');
    const scheme = pseudo(raw, ':scheme') === 'https' ? 'https' : 'http';
    const ended = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || stream.endAfterHeaders;
    const s = new H2ServerStream(this, stream, { method, path, authority, scheme, protocol: 'HTTP/2', headers }, ended);
    this.streams++;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    try {
      this.opts.onStream(s);
    } catch (e) {
      // A bug in a consumer must not take the connection (or the process) down with it.
      log.error('http2 stream handler failed', { error: (e as Error).message });
      s.reset();
    }
  }

  get sessionGone(): boolean {
    return this.session === null || this.session.destroyed;
  }

  /** Called by a stream when it is closed (both ways, or reset). */
  streamClosed(): void {
    this.streams--;
    this.armIdle();
  }

  private armIdle(): void {
    const ms = this.opts.config.idleTimeoutMs ?? 0;
    if (ms <= 0 || this.streams > 0 || this.done) return;
    this.idleTimer = setTimeout(idleExpired, ms, this);
    this.idleTimer.unref();
  }

  drain(): void {
    const s = this.session;
    // close() sends GOAWAY (last processed stream id), refuses new streams and destroys the
    // session once open ones finish: Envoy's graceful drain, minus the shutdown notice that
    // node:http2 has no API for.
    if (s !== null && !s.closed && !s.destroyed) s.close();
  }

  close(): void {
    const s = this.session;
    if (s !== null && !s.destroyed) s.destroy();
    this.socket.destroy();
  }

  closed(): void {
    if (this.done) return;
    this.done = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.opts.onClose();
  }
}


function idleExpired(c: Conn): void {
  c.drain();
}

/** A request the proxy will not take (Envoy sends these as local replies too). */
function rejectStream(stream: http2.ServerHttp2Stream, status: number, reason: string): void {
  if (log.enabled('debug')) log.debug('http2 request rejected', { status, reason });
  try {
    const body = reason + '\n';
    stream.respond({ ':status': status, 'content-type': 'text/plain', 'content-length': body.length });
    stream.end(body);
  } catch {
    stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
  }
}
