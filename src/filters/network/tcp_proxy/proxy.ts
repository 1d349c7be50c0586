// envoy.filters.network.tcp_proxy at run time: connect the downstream socket to a host of
// the cluster and relay bytes both ways. Half-close passes through each way (both sockets
// allowHalfOpen, design convention 11) and both relays give backpressure both ways: a slow
// reader on one side stops the reads from the other side instead of buffering without bound.
//
// Two relays, chosen per connection by code: the splice(2) relay of the interception addon
// (src/interception/splice_relay.ts: bytes stay in the kernel; 4x the bulk throughput of
// streams in bench/interception.js) for plain TCP sockets on Linux, and Node streams (`pipe()`) for anything else (TLS,
// no addon, other platforms). Both keep the same behaviour: idle_timeout, byte counters,
// close on error, closeAll.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/network_filters/tcp_proxy_filter
import type { Socket } from 'node:net';
import { connectionInfo, type ConnectionInfo } from '../../../listeners/connection_info';
import { openUpstreamSocket, originalSource } from '../../../upstream/source';
import { log } from '../../../log';
import { ByteCounters, type ByteSource, type Counter, type Gauge, type StatsStore } from '../../../telemetry/stats';
import { computeConnectionHash } from '../../../routing/hash_policy';
import type { Cluster } from '../../../upstream/cluster';
import type { LbContext } from '../../../upstream/lb/picker';
import type { ClusterManager } from '../../../upstream/cluster_manager';
import type { Host } from '../../../upstream/host';
import type { TcpProxyConfig } from './config';
import { reportConnectOutcome } from '../../../upstream/outlier/report';
import { SpliceRelay, type RelayCounts, type RelayEndListener, type RelayEndReason } from '../../../interception/splice_relay';

class TcpProxyStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_no_route: Counter;
  readonly downstream_cx_rx_bytes_total: Counter;
  readonly downstream_cx_tx_bytes_total: Counter;
  readonly idle_timeout: Counter;
  readonly upstream_flush_active: Gauge;
  constructor(store: StatsStore, prefix: string) {
    const p = `tcp.${prefix}.`;
    this.downstream_cx_total = store.counter(p + 'downstream_cx_total');
    this.downstream_cx_no_route = store.counter(p + 'downstream_cx_no_route');
    this.downstream_cx_rx_bytes_total = store.counter(p + 'downstream_cx_rx_bytes_total');
    this.downstream_cx_tx_bytes_total = store.counter(p + 'downstream_cx_tx_bytes_total');
    this.idle_timeout = store.counter(p + 'idle_timeout');
    this.upstream_flush_active = store.gauge(p + 'upstream_flush_active');
  }
}

export class TcpProxyRuntime {
  private readonly stats: TcpProxyStats;
  private readonly conns = new Set<Socket>();
  private readonly totalWeight: number;

  constructor(
    readonly config: TcpProxyConfig,
    private readonly clusters: ClusterManager,
    readonly store: StatsStore,
  ) {
    this.stats = new TcpProxyStats(store, config.statPrefix);
    this.totalWeight = (config.weightedClusters ?? []).reduce((a, w) => a + w.weight, 0);
  }

  get activeConnections(): number {
    return this.conns.size;
  }

  private clusterName(): string | undefined {
    const ws = this.config.weightedClusters;
    if (ws !== undefined && ws.length > 0) {
      let r = Math.random() * this.totalWeight;
      for (const w of ws) {
        r -= w.weight;
        if (r < 0) return w.name;
      }
      return ws[ws.length - 1].name;
    }
    return this.config.cluster;
  }

  onConnection(down: Socket, initial: Buffer | null): void {
    this.stats.downstream_cx_total.inc();
    const name = this.clusterName();
    const cluster = name === undefined ? undefined : this.clusters.get(name);
    if (cluster === undefined) {
      this.stats.downstream_cx_no_route.inc();
      down.destroy();
      return;
    }
    // Hold client bytes until the upstream is connected.
    down.pause();
    this.conns.add(down);
    down.once('close', () => this.conns.delete(down));
    new TcpSession(this, cluster, down, initial, this.config.maxConnectAttempts).connect();
  }

  get downstreamRxBytes(): Counter {
    return this.stats.downstream_cx_rx_bytes_total;
  }

  get downstreamTxBytes(): Counter {
    return this.stats.downstream_cx_tx_bytes_total;
  }

  onIdleTimeout(): void {
    this.stats.idle_timeout.inc();
  }

  /** Listener drain: TCP has no graceful signal; connections finish on their own until the drain deadline. */
  closeAll(): void {
    for (const s of this.conns) s.destroy();
  }
}

class TcpSession implements LbContext, RelayEndListener {
  /** LbContext: the connection's hash from tcp_proxy's hash_policy (RING_HASH / MAGLEV clusters only). */
  hashSet = false;
  hashHi = 0;
  hashLo = 0;
  private up: Socket | null = null;
  private host: Host | null = null;
  private attempts = 0;
  private connected = false;
  private closed = false;
  /** The splice relay moving the bytes, when it serves this connection. */
  private relay: SpliceRelay | null = null;
  /** The relay's final counts, once it has ended or been stopped. */
  private relayCounts: RelayCounts | null = null;
  /**
   * The byte counters follow the connection while it is open, as Envoy's do: the downstream
   * side's as a collector of the store, the upstream side's through the cluster's stats
   * (ClusterStats.openBytes, as the HTTP pools' connections).
   */
  private readonly downBytes: ByteCounters;
  private readonly upBytes: ByteSource;

  constructor(
    private readonly rt: TcpProxyRuntime,
    private readonly cluster: Cluster,
    private readonly down: Socket,
    private initial: Buffer | null,
    private readonly maxAttempts: number,
  ) {
    down.on('error', () => this.close());
    down.on('close', () => this.close());
    // Each side's totals: what Node read and wrote on the socket itself (listener filters'
    // bytes, the stream relay) plus what the splice relay moved.
    const session = this;
    this.downBytes = new ByteCounters(
      {
        get bytesReceived() {
          return down.bytesRead + (session.relayTotals()?.readA ?? 0);
        },
        get bytesSent() {
          return down.bytesWritten + (session.relayTotals()?.writtenA ?? 0);
        },
      },
      rt.downstreamRxBytes,
      rt.downstreamTxBytes,
    );
    this.upBytes = {
      get bytesReceived() {
        return (session.up?.bytesRead ?? 0) + (session.relayTotals()?.readB ?? 0);
      },
      get bytesSent() {
        return (session.up?.bytesWritten ?? 0) + (session.relayTotals()?.writtenB ?? 0);
      },
    };
    const hp = rt.config.hashPolicy;
    if (cluster.usesHash && hp.length > 0) computeConnectionHash(hp, down.remoteAddress, connectionInfo(down)?.filterState, this);
  }

  /** LbContext: the downstream connection (ORIGINAL_DST clusters connect to its original destination). */
  get connectionInfo(): ConnectionInfo | undefined {
    return connectionInfo(this.down);
  }

  /** The upstream socket: from the client's own address with original_src, else as the cluster's bind config says. */
  private openUpstream(host: Host): Socket {
    const source = originalSource(connectionInfo(this.down)) ?? this.cluster.source;
    return openUpstreamSocket(host.ip, host.port, source, true);
  }

  connect(): void {
    if (this.closed) return;
    this.attempts++;
    const host = this.cluster.pick(this);
    const cs = this.cluster.stats;
    if (host === null) {
      cs.upstream_cx_none_healthy.inc();
      this.close();
      return;
    }
    // Circuit breaker max_connections (DEFAULT priority), as Envoy's tcp_proxy: over the limit
    // the downstream connection is closed and upstream_cx_overflow counts it.
    const cx = this.cluster.resources.default.connections;
    if (!cx.canCreate()) {
      cs.upstream_cx_overflow.inc();
      this.close();
      return;
    }
    cx.inc();
    this.host = host;
    cs.upstream_cx_total.inc();
    cs.upstream_cx_active.inc();
    host.stats.cx_total++;
    host.stats.cx_active++;
    const up = this.openUpstream(host);
    this.up = up;
    const timeout = this.cluster.config.connectTimeoutMs;
    const timer = timeout > 0 ? setTimeout(() => up.destroy(new Error('connect timeout')), timeout) : null;
    up.once('connect', () => {
      if (timer) clearTimeout(timer);
      reportConnectOutcome(host, 'connected');
      this.onConnected(up);
    });
    up.on('error', (e) => {
      if (timer) clearTimeout(timer);
      if (!this.connected) this.connectFailed(up, host, e);
      else this.close();
    });
    up.on('close', () => {
      cx.dec();
      cs.upstream_cx_active.dec();
      host.stats.cx_active--;
      if (this.connected) {
        cs.upstream_cx_destroy.inc();
        this.close();
      }
    });
  }

  private connectFailed(up: Socket, host: Host, e: Error): void {
    const cs = this.cluster.stats;
    cs.upstream_cx_connect_fail.inc();
    if (e.message === 'connect timeout') cs.upstream_cx_connect_timeout.inc();
    host.stats.cx_connect_fail++;
    reportConnectOutcome(host, e.message === 'connect timeout' ? 'timeout' : 'failed');
    up.destroy();
    if (log.enabled('debug')) log.debug('tcp_proxy connect failed', { cluster: this.cluster.config.name, host: host.key, error: e.message });
    if (this.attempts < this.maxAttempts && !this.closed) this.connect();
    else this.close();
  }

  private onConnected(up: Socket): void {
    if (this.closed) {
      up.destroy();
      return;
    }
    this.connected = true;
    this.rt.store.addCollector(this.downBytes);
    this.cluster.stats.openBytes(this.upBytes);
    const down = this.down;
    const idle = this.rt.config.idleTimeoutMs;
    this.relay = SpliceRelay.start(down, up, this.initial, idle, this);
    if (this.relay !== null) {
      this.initial = null;
      return;
    }
    if (this.initial !== null && this.initial.length > 0) up.write(this.initial);
    this.initial = null;
    // pipe(): backpressure both ways; `end` passes a half-close (FIN) on to the other side.
    down.pipe(up);
    up.pipe(down);
    if (idle > 0) {
      // Reads and writes on the downstream socket both reset its timer, so one timer
      // covers traffic in either direction (Envoy's idle_timeout).
      down.setTimeout(idle);
      down.on('timeout', () => {
        this.rt.onIdleTimeout();
        this.close();
      });
    }
    down.resume();
  }

  /** The splice relay ended: both FINs passed on (all bytes delivered), a side failed, or idle_timeout. */
  onRelayEnd(reason: RelayEndReason, error: Error | undefined, counts: RelayCounts): void {
    this.relayCounts = counts;
    if (reason === 'idle') this.rt.onIdleTimeout();
    if (error !== undefined && log.enabled('debug')) log.debug('tcp_proxy relay ended', { cluster: this.cluster.config.name, error: error.message });
    this.close();
  }

  /** The splice relay's counts so far (its final ones once it has ended), or null without a relay. */
  private relayTotals(): RelayCounts | null {
    return this.relay === null ? null : (this.relayCounts ?? this.relay.counts());
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    const down = this.down;
    const up = this.up;
    const relay = this.relay;
    // The last bytes, with the relay's final counts (stop() also frees its pipes and fds).
    if (relay !== null) this.relayCounts ??= relay.stop();
    this.rt.store.removeCollector(this.downBytes);
    this.cluster.stats.closeBytes(this.upBytes);
    if (relay !== null) {
      // Node holds nothing queued for either socket, and the relay has flushed or given up on
      // its pipes: close both now (a socket JS destroyed is only really closed once the
      // relay's dup of it is, which stop() did).
      down.destroy();
      up?.destroy();
      return;
    }
    // Flush what is already queued for each side (Envoy's FlushWrite), then close it.
    if (!down.destroyed) down.end(() => down.destroy());
    if (up !== null && !up.destroyed) up.end(() => up.destroy());
  }
}
