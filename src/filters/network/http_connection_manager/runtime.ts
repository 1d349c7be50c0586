// The http_connection_manager network filter at run time: one HcmRuntime per filter
// chain config (built once, design convention 4); per accepted connection it picks the
// codec (HTTP/1.1 or HTTP/2, by codec_type or by sniffing the h2c preface) and per
// request it creates an ActiveStream.
import type { Socket } from 'node:net';
import { H1ServerConnection, type H1ServerStream } from '../../../http/h1/server';
import { startH2ServerConnection, type H2ServerConnection } from '../../../http/h2/server';
import type { DownstreamStream } from '../../../http/stream';
import { log } from '../../../log';
import type { RouteTableRegistry } from '../../../routing/registry';
import type { RouteTable } from '../../../routing/types';
import { ByteCounters, socketBytes, type StatsStore } from '../../../telemetry/stats';
import type { ClusterManager } from '../../../upstream/cluster_manager';
import { ActiveStream } from './active_stream';
import type { RouterConfig } from '../../http/router/config';
import type { HcmConfig } from './config';
import { HcmStats } from './stats';
import { IdleSweeper } from '../../../util/idle_sweeper';
import { StreamTimeouts } from './timeouts';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface HcmConnection {
  drain(): void;
  close(): void;
  /** A request is in progress on the connection. */
  readonly active: boolean;
}

export class HcmRuntime {
  readonly stats: HcmStats;
  draining = false;
  /** From the router filter's suppress_envoy_headers. */
  readonly suppressEnvoyHeaders: boolean;
  private readonly conns = new Set<HcmConnection>();
  private readonly sweeper: StreamTimeouts;
  private readonly idleSweeper: IdleSweeper;
  private table: RouteTable | null;

  private unwatchRds: (() => void) | null = null;

  constructor(
    readonly config: HcmConfig,
    readonly clusters: ClusterManager,
    private readonly store: StatsStore,
    routes: RouteTableRegistry,
  ) {
    this.stats = new HcmStats(store, config.statPrefix);
    this.sweeper = new StreamTimeouts(config);
    this.idleSweeper = new IdleSweeper(config.idleTimeoutMs);
    this.table = config.routeTable ?? null;
    if (config.rds !== undefined) {
      // RDS: follow the named table; an update swaps it for new requests, with no drain.
      this.setRouteTable(routes.get(config.rds.routeConfigName));
      this.unwatchRds = routes.watch(config.rds.routeConfigName, (t) => this.setRouteTable(t));
    }
    const router = config.httpFilters[config.httpFilters.length - 1]?.config as RouterConfig | undefined;
    this.suppressEnvoyHeaders = router?.suppressEnvoyHeaders ?? false;
  }

  /** The route table in force; RDS swaps it whole (no drain needed). */
  routeTable(): RouteTable | null {
    return this.table;
  }

  setRouteTable(t: RouteTable | null): void {
    this.table = t;
    this.sweeper.setRouteTable(t);
  }

  get activeConnections(): number {
    return this.conns.size;
  }

  /** Takes over an accepted socket; `initial` holds bytes a listener filter already read. */
  onConnection(socket: Socket, initial: Buffer | null, scheme: 'http' | 'https' = 'http'): void {
    const st = this.stats;
    st.downstream_cx_total.inc();
    st.downstream_cx_active.inc();
    // downstream_cx_rx/tx_bytes_total follow the connection while it is open (telemetry/stats.ts).
    const bytes = new ByteCounters(socketBytes(socket), st.downstream_cx_rx_bytes_total, st.downstream_cx_tx_bytes_total);
    this.store.addCollector(bytes);
    socket.once('close', () => {
      st.downstream_cx_active.dec();
      st.downstream_cx_destroy.inc();
      this.store.removeCollector(bytes);
    });
    const codec = this.config.codecType;
    if (codec === 'HTTP2') return this.startH2(socket, initial);
    if (codec === 'HTTP1') return this.startH1(socket, initial, scheme);
    // AUTO: HTTP/2 with prior knowledge starts with the connection preface (RFC 9113 §3.4).
    if (initial !== null && initial.length > 0) return this.sniff(socket, initial, scheme);
    // A client that closes before sending a byte must not leave a half-open socket behind.
    socket.once('end', destroySocket);
    socket.once('data', (d: Buffer) => {
      socket.off('end', destroySocket);
      socket.pause();
      this.sniff(socket, d, scheme);
    });
  }

  private sniff(socket: Socket, data: Buffer, scheme: 'http' | 'https'): void {
    const n = Math.min(data.length, H2_PREFACE.length);
    if (data.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
      if (n < H2_PREFACE.length) {
        // Too few bytes to decide yet.
        socket.once('end', destroySocket);
        socket.once('data', (more: Buffer) => {
          socket.off('end', destroySocket);
          this.sniff(socket, Buffer.concat([data, more]), scheme);
        });
        socket.resume();
        return;
      }
      return this.startH2(socket, data);
    }
    this.startH1(socket, data, scheme);
  }

  private startH1(socket: Socket, initial: Buffer | null, scheme: 'http' | 'https'): void {
    this.stats.downstream_cx_http1_total.inc();
    const cfg = this.config;
    const conn = new H1ServerConnection(socket, {
      maxHeaderBytes: cfg.maxRequestHeadersKb * 1024,
      scheme,
      idleSweeper: this.idleSweeper,
      maxHeadersCount: cfg.maxHeadersCount,
      requestHeadersTimeoutMs: cfg.requestHeadersTimeoutMs,
      maxRequestsPerConnection: cfg.maxRequestsPerConnection,
      allowAbsoluteUrl: cfg.http1.allowAbsoluteUrl,
      enableTrailers: cfg.http1.enableTrailers,
      onRequest: (s: H1ServerStream) => this.onStream(s),
      onProtocolError: (status: number, reason: string) => {
        this.stats.downstream_cx_protocol_error.inc();
        if (log.enabled('debug')) log.debug('downstream protocol error', { status, reason });
      },
      onClose: () => this.connClosed(conn),
    });
    this.conns.add(conn);
    if (this.draining) conn.drain();
    this.limitDuration(conn);
    if (initial !== null && initial.length > 0) conn.feed(initial);
    socket.resume();
  }

  /**
   * common_http_protocol_options.max_connection_duration: when reached, a connection with
   * no active stream is closed; one with streams drains (Envoy's HttpProtocolOptions).
   */
  private limitDuration(conn: HcmConnection): void {
    const ms = this.config.maxConnectionDurationMs;
    if (ms <= 0) return;
    const t = setTimeout(() => {
      if (!this.conns.has(conn)) return;
      if (conn.active) conn.drain();
      else conn.close();
    }, ms);
    t.unref();
  }

  private startH2(socket: Socket, initial: Buffer | null): void {
    this.stats.downstream_cx_http2_total.inc();
    const conn: H2ServerConnection = startH2ServerConnection(socket, initial, {
      config: this.config,
      onStream: (s: DownstreamStream) => this.onStream(s),
      onClose: () => this.connClosed(conn),
    });
    this.conns.add(conn);
    if (this.draining) conn.drain();
    this.limitDuration(conn);
  }

  private onStream(s: DownstreamStream): void {
    const as = new ActiveStream(this, s);
    this.sweeper.add(as);
    as.start();
  }

  private connClosed(c: HcmConnection): void {
    this.conns.delete(c);
  }

  /** A stream whose deadline is known only per request (timeouts.ts need()). */
  needSweep(s: ActiveStream, ms: number): void {
    this.sweeper.need(s, ms);
  }

  streamDone(s: ActiveStream): void {
    this.sweeper.delete(s);
  }

  /** Listener drain: HTTP/1.1 closes after the current response, HTTP/2 sends GOAWAY. */
  drain(): void {
    this.draining = true;
    for (const c of this.conns) c.drain();
  }

  closeAll(): void {
    for (const c of this.conns) c.close();
  }

  dispose(): void {
    this.unwatchRds?.();
    this.unwatchRds = null;
  }
}

function destroySocket(this: Socket): void {
  this.destroy();
}
