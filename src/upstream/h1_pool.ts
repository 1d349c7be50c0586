// HTTP/1.1 connection pool for one upstream host: idle keep-alive connections are reused
// LIFO (the warmest first); requests wait in FIFO order for a connection when none is idle.
import type { UpstreamSource } from './source';
import type { UpstreamResponseSink } from '../http/stream';
import { H1ClientConnection, type H1ClientOwner } from '../http/h1/client';
import { IdleSweeper } from '../util/idle_sweeper';
import type { ClusterStats } from './cluster_stats';
import type { ClusterResources } from './circuit_breakers';
import type { Host } from './host';
import { PendingQueue } from './pending';
import type { ConnectionPool, PoolClient, PoolRequest } from './pool';

export interface PoolSettings {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  /**
   * The cluster's circuit breakers: connections count against the DEFAULT priority's
   * max_connections cluster-wide, waiting requests against their priority's max_pending_requests.
   */
  resources: ClusterResources;
  /** upstream_bind_config.source_address, or the client's address with original_src. */
  source?: UpstreamSource;
}

export class H1Pool implements ConnectionPool, H1ClientOwner {
  private readonly idle: H1ClientConnection[] = [];
  private readonly all = new Set<H1ClientConnection>();
  private readonly pending: PendingQueue;
  private connecting = 0;
  private draining = false;
  activeStreams = 0;
  private readonly idleSweeper: IdleSweeper;

  constructor(
    readonly host: Host,
    private readonly settings: PoolSettings,
    private readonly stats: ClusterStats,
  ) {
    this.idleSweeper = new IdleSweeper(settings.idleTimeoutMs);
    this.pending = new PendingQueue(stats, settings.resources);
  }

  newStream(sink: UpstreamResponseSink, client: PoolClient): PoolRequest | null {
    const c = this.idle.pop();
    if (c !== undefined) {
      this.assign(c, sink, client);
      return null;
    }
    const w = this.pending.add(sink, client);
    if (w === null) return null;
    if (this.connecting < this.pending.length) this.maybeOpen();
    return w;
  }

  private assign(c: H1ClientConnection, sink: UpstreamResponseSink, client: PoolClient): void {
    c.attach(sink);
    this.activeStreams++;
    this.host.stats.rq_active++;
    client.onPoolReady(c, this.host.key);
  }

  /**
   * Opens a connection unless max_connections are open cluster-wide (upstream_cx_overflow);
   * a pool with no connection at all still opens one, as Envoy does, so it cannot stall.
   */
  private maybeOpen(): void {
    if (this.settings.resources.default.connections.canCreate() || this.all.size === 0) this.open();
    else this.stats.upstream_cx_overflow.inc();
  }

  private open(): void {
    this.settings.resources.default.connections.inc();
    const c = new H1ClientConnection(this.host.ip, this.host.port, this.settings.connectTimeoutMs, this, this.settings.source);
    this.all.add(c);
    this.stats.openBytes(c);
    this.idleSweeper.add(c);
    this.connecting++;
    this.stats.upstream_cx_total.inc();
    this.stats.upstream_cx_http1_total.inc();
    this.stats.upstream_cx_active.inc();
    this.host.stats.cx_total++;
    this.host.stats.cx_active++;
  }

  onConnected(c: H1ClientConnection): void {
    this.connecting--;
    const w = this.pending.shift();
    if (w !== undefined) this.assign(c, w.sink, w.client);
    else this.release(c);
  }

  onConnectFailed(c: H1ClientConnection, reason: string): void {
    this.idleSweeper.delete(c);
    if (!this.all.delete(c)) return;
    this.connecting--;
    this.settings.resources.default.connections.dec();
    this.stats.upstream_cx_connect_fail.inc();
    if (reason === 'connect timeout') this.stats.upstream_cx_connect_timeout.inc();
    this.stats.upstream_cx_active.dec();
    this.host.stats.cx_connect_fail++;
    this.host.stats.cx_active--;
    const w = this.pending.shift();
    w?.client.onPoolFailure('connect_failure', reason);
  }

  onStreamDone(c: H1ClientConnection, reusable: boolean): void {
    this.activeStreams--;
    this.host.stats.rq_active--;
    const max = this.settings.maxRequestsPerConnection;
    if (!reusable || this.draining || (max > 0 && c.requests >= max)) {
      if (reusable) c.destroy();
      return;
    }
    const w = this.pending.shift();
    if (w !== undefined) this.assign(c, w.sink, w.client);
    else this.release(c);
  }

  private release(c: H1ClientConnection): void {
    if (this.draining) c.destroy();
    else this.idle.push(c);
  }

  onClosed(c: H1ClientConnection): void {
    this.idleSweeper.delete(c);
    if (!this.all.delete(c)) return;
    this.settings.resources.default.connections.dec();
    this.stats.upstream_cx_active.dec();
    this.stats.upstream_cx_destroy.inc();
    this.stats.closeBytes(c);
    this.host.stats.cx_active--;
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    if (c.hasStream) {
      c.hasStream = false;
      this.activeStreams--;
      this.host.stats.rq_active--;
    }
    // Waiters that lost their connection get a fresh one.
    if (!this.draining && this.connecting < this.pending.length) this.maybeOpen();
  }

  drain(): void {
    this.draining = true;
    for (const c of this.idle.splice(0)) c.destroy();
  }

  destroy(): void {
    this.draining = true;
    this.pending.failAll('local_reset', 'cluster removed');
    for (const c of [...this.all]) c.destroy();
  }

  get connectionCount(): number {
    return this.all.size;
  }
}
