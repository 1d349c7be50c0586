// HTTP/2 connection pool for one upstream host (Envoy's Http2::ConnPoolImpl): streams are
// multiplexed on one session; a second session opens only when every ready one is at the
// peer's SETTINGS_MAX_CONCURRENT_STREAMS. Requests wait FIFO while a session connects. A
// session that gets GOAWAY or fails stops taking streams, finishes what it has, and a new
// one is opened for new requests.
import type { UpstreamResponseSink } from '../http/stream';
import { H2ClientSession, type H2ClientOwner } from '../http/h2/client';
import { registerPoolFactory } from './cluster';
import type { PoolSettings } from './h1_pool';
import type { ClusterStats } from './cluster_stats';
import type { Host } from './host';
import { PendingQueue } from './pending';
import type { ConnectionPool, PoolClient, PoolRequest } from './pool';

export class H2Pool implements ConnectionPool, H2ClientOwner {
  private readonly sessions = new Set<H2ClientSession>();
  private readonly pending: PendingQueue;
  private draining = false;
  activeStreams = 0;

  constructor(
    readonly host: Host,
    private readonly settings: PoolSettings,
    private readonly stats: ClusterStats,
  ) {
    this.pending = new PendingQueue(stats, settings.resources);
  }

  newStream(sink: UpstreamResponseSink, client: PoolClient): PoolRequest | null {
    if (this.draining) {
      client.onPoolFailure('local_reset', 'connection pool is draining');
      return null;
    }
    const s = this.ready();
    if (s !== null && this.pending.length === 0) {
      this.assign(s, sink, client);
      return null;
    }
    const w = this.pending.add(sink, client);
    if (w === null) return null;
    this.maybeOpen();
    return w;
  }

  /** A connected session with a free stream slot (the oldest first, to keep others idle). */
  private ready(): H2ClientSession | null {
    for (const s of this.sessions) if (s.hasCapacity) return s;
    return null;
  }

  /** Opens a session when waiters outnumber the slots that ready and connecting sessions will offer. */
  private maybeOpen(): void {
    if (this.draining || this.pending.length === 0) return;
    let slots = 0;
    for (const s of this.sessions) {
      if (s.st === 'connecting') slots += s.maxStreams;
      else if (s.st === 'ready') slots += Math.max(0, s.maxStreams - s.streams);
    }
    if (slots >= this.pending.length) return;
    // max_connections cluster-wide (upstream_cx_overflow); a pool with no session opens one anyway.
    if (this.settings.resources.default.connections.canCreate() || this.sessions.size === 0) this.open();
    else this.stats.upstream_cx_overflow.inc();
  }

  private open(): void {
    this.settings.resources.default.connections.inc();
    const s = new H2ClientSession(this.host.ip, this.host.port, this.settings.connectTimeoutMs, this, this.settings.idleTimeoutMs, this.settings.source);
    this.sessions.add(s);
    this.stats.openBytes(s);
    this.stats.upstream_cx_total.inc();
    this.stats.upstream_cx_http2_total.inc();
    this.stats.upstream_cx_active.inc();
    this.host.stats.cx_total++;
    this.host.stats.cx_active++;
  }

  private assign(s: H2ClientSession, sink: UpstreamResponseSink, client: PoolClient): void {
    const stream = s.newStream(sink);
    this.activeStreams++;
    this.host.stats.rq_active++;
    const max = this.settings.maxRequestsPerConnection;
    // max_requests_per_connection counts streams on HTTP/2: the session drains after the last.
    if (max > 0 && s.total >= max) s.stopNewStreams();
    client.onPoolReady(stream, this.host.key);
  }

  /** Hands free slots to waiters in FIFO order. */
  private serve(): void {
    let s = this.ready();
    while (s !== null && this.pending.length > 0) {
      const w = this.pending.shift()!;
      this.assign(s, w.sink, w.client);
      if (!s.hasCapacity) s = this.ready();
    }
    this.maybeOpen();
  }

  // ---- H2ClientOwner
  onConnected(_s: H2ClientSession): void {
    this.serve();
  }

  onCapacity(_s: H2ClientSession): void {
    this.serve();
  }

  onStreamDone(_s: H2ClientSession): void {
    this.activeStreams--;
    this.host.stats.rq_active--;
    this.serve();
  }

  onDraining(_s: H2ClientSession): void {
    // Requests still waiting need a session that takes streams.
    this.maybeOpen();
  }

  onConnectFailed(s: H2ClientSession, reason: string): void {
    if (!this.sessions.delete(s)) return;
    this.settings.resources.default.connections.dec();
    this.stats.upstream_cx_connect_fail.inc();
    if (reason === 'connect timeout') this.stats.upstream_cx_connect_timeout.inc();
    this.stats.upstream_cx_active.dec();
    this.host.stats.cx_connect_fail++;
    this.host.stats.cx_active--;
    // Every request waiting on this connection fails with it (Envoy purges the pending
    // requests of a failed HTTP/2 connection attempt), unless another session is coming.
    for (const o of this.sessions) if (o.st === 'connecting' || o.st === 'ready') return;
    this.pending.failAll('connect_failure', reason);
  }

  onClosed(s: H2ClientSession): void {
    if (!this.sessions.delete(s)) return;
    this.settings.resources.default.connections.dec();
    this.stats.upstream_cx_active.dec();
    this.stats.upstream_cx_destroy.inc();
    this.stats.closeBytes(s);
    this.host.stats.cx_active--;
    this.maybeOpen();
  }

  drain(): void {
    this.draining = true;
    for (const s of [...this.sessions]) s.drain();
  }

  destroy(): void {
    this.draining = true;
    this.pending.failAll('local_reset', 'cluster removed');
    for (const s of [...this.sessions]) s.destroy();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }
}

registerPoolFactory('http2', (host, settings, stats) => new H2Pool(host, settings, stats));
