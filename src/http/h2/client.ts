// Upstream HTTP/2 codec: one node:http2 client session to one host, carrying many
// streams. The pool (src/upstream/h2_pool.ts) decides which session a request goes to;
// this module turns the session and its streams into the codec-neutral interfaces.
import { openUpstreamSocket, type UpstreamSource } from '../../upstream/source';
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { UpstreamResponseSink } from '../stream';
import { H2UpstreamStream } from './client_stream';

export interface H2ClientOwner {
  onConnected(c: H2ClientSession): void;
  onConnectFailed(c: H2ClientSession, reason: string): void;
  /** A stream ended (any way); the session may take another. */
  onStreamDone(c: H2ClientSession): void;
  /** The session stopped taking new streams (GOAWAY, error, max requests) but is not gone yet. */
  onDraining(c: H2ClientSession): void;
  /** The peer's SETTINGS changed how many streams the session can carry. */
  onCapacity(c: H2ClientSession): void;
  onClosed(c: H2ClientSession): void;
}

export type SessionState = 'connecting' | 'ready' | 'draining' | 'closed';

// Same reasoning as the server side (src/http/h2/server.ts): bounded windows, because a
// paused node:http2 stream holds what the peer may send up to the window in memory.
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;

export class H2ClientSession {
  st: SessionState = 'connecting';
  readonly session: http2.ClientHttp2Session;
  private socket: Socket | null = null;
  /** Streams open on this session. */
  streams = 0;
  /** Streams ever opened (max_requests_per_connection). */
  total = 0;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS; node assumes 100 until SETTINGS arrive. */
  maxStreams = 100;
  private connectTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    ip: string,
    port: number,
    connectTimeoutMs: number,
    private readonly owner: H2ClientOwner,
    private readonly idleTimeoutMs: number,
    source?: UpstreamSource,
  ) {
    const authority = ip.includes(':') ? `http://[${ip}]:${port}` : `http://${ip}:${port}`;
    const s = http2.connect(authority, {
      createConnection: () => (this.socket = openUpstreamSocket(ip, port, source, false)),
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
      maxSessionMemory: 64,
    });
    this.session = s;
    s.on('connect', () => this.onConnect());
    s.on('remoteSettings', (st: http2.Settings) => this.onRemoteSettings(st));
    s.on('goaway', () => this.stopNewStreams());
    s.on('error', (e: Error) => this.onError(e));
    s.on('close', () => this.onClose());
    if (connectTimeoutMs > 0) this.connectTimer = setTimeout(onConnectTimeout, connectTimeoutMs, this);
  }

  get hasCapacity(): boolean {
    return this.st === 'ready' && this.streams < this.maxStreams;
  }

  get bytesReceived(): number {
    return this.socket?.bytesRead ?? 0;
  }

  get bytesSent(): number {
    return this.socket?.bytesWritten ?? 0;
  }

  /** Opens a stream for the router; the request goes out at sendHeaders(). */
  newStream(sink: UpstreamResponseSink): H2UpstreamStream {
    this.streams++;
    this.total++;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return new H2UpstreamStream(this, sink);
  }

  /** Called once per stream from H2UpstreamStream when it is finished. */
  streamDone(): void {
    this.streams--;
    if (this.streams === 0) {
      if (this.st === 'draining') this.closeNow();
      else if (this.st === 'ready' && this.idleTimeoutMs > 0) {
        this.idleTimer = setTimeout(onIdle, this.idleTimeoutMs, this);
        this.idleTimer.unref();
      }
    }
    this.owner.onStreamDone(this);
  }

  private onConnect(): void {
    if (this.st !== 'connecting') return;
    this.clearConnectTimer();
    this.st = 'ready';
    try {
      this.session.setLocalWindowSize(CONNECTION_WINDOW);
    } catch {
      // The session failed right after connecting; 'close' follows.
    }
    this.owner.onConnected(this);
  }

  private onRemoteSettings(st: http2.Settings): void {
    const n = st.maxConcurrentStreams;
    if (n === undefined || n === this.maxStreams) return;
    this.maxStreams = n;
    if (this.st === 'ready') this.owner.onCapacity(this);
  }

  /** GOAWAY from the peer, an error, or the last request allowed: finish what is open. */
  stopNewStreams(): void {
    if (this.st !== 'ready' && this.st !== 'connecting') return;
    const wasConnecting = this.st === 'connecting';
    this.st = 'draining';
    if (wasConnecting) return;
    this.owner.onDraining(this);
    if (this.streams === 0) this.closeNow();
  }

  /**
   * A draining session with no streams left. node:http2's graceful close only half-closes
   * the socket and waits for the peer to close its side, which a server that sent GOAWAY
   * may never do; nothing is in flight, so the socket is closed outright.
   */
  private closeNow(): void {
    if (!this.session.destroyed) this.session.destroy();
    this.socket?.destroy();
  }

  private onError(e: Error): void {
    const code = (e as NodeJS.ErrnoException).code ?? e.message;
    if (this.st === 'connecting') return this.connectFailed(code);
    this.stopNewStreams();
  }

  private connectFailed(reason: string): void {
    this.clearConnectTimer();
    this.st = 'closed';
    this.session.destroy();
    this.owner.onConnectFailed(this, reason);
  }

  connectTimedOut(): void {
    this.connectTimer = null;
    if (this.st === 'connecting') this.connectFailed('connect timeout');
  }

  private onClose(): void {
    this.clearConnectTimer();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const prev = this.st;
    this.st = 'closed';
    // Closed before it ever connected, without an error event: still a connect failure.
    if (prev === 'connecting') return this.owner.onConnectFailed(this, 'connection closed');
    if (prev !== 'closed') this.owner.onClosed(this);
  }

  /** Pool drain: no new streams; close once the open ones finish. */
  drain(): void {
    if (this.st === 'connecting') return this.destroy();
    this.stopNewStreams();
  }

  destroy(): void {
    if (this.st === 'closed' && this.session.destroyed) return;
    this.closeNow();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }
}

function onConnectTimeout(c: H2ClientSession): void {
  c.connectTimedOut();
}

function onIdle(c: H2ClientSession): void {
  // Envoy closes an upstream connection without streams after idle_timeout.
  if (c.streams === 0 && c.st === 'ready') c.stopNewStreams();
}
