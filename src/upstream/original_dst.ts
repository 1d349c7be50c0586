// The hosts of an ORIGINAL_DST cluster: made on demand from where each connection was going
// (its original destination, or the x-envoy-original-dst-host header with use_http_header)
// and forgotten once unused for cleanup_interval — Envoy's original destination cluster.
// Connections of a forgotten host finish; its pools are drained.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/service_discovery#original-destination
import { isIP } from 'node:net';
import type { OriginalDstClusterConfig } from '../config/types';
import { Host } from './host';
import type { LbContext } from './lb/picker';

export interface OriginalDstOwner {
  addHost(h: Host): void;
  removeHosts(hs: Host[]): void;
}

export class OriginalDstHosts {
  private readonly hosts = new Map<string, Host>();
  /** Hosts picked since the last sweep. */
  private used = new Set<Host>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly config: OriginalDstClusterConfig,
    private readonly owner: OriginalDstOwner,
  ) {
    this.timer = setInterval(() => this.sweep(), config.cleanupIntervalMs);
    this.timer.unref();
  }

  /**
   * The host the client was going to: the x-envoy-original-dst-host header when
   * use_http_header allows it, else the connection's restored original destination. None when
   * neither is there (Envoy then has no host either: 503 UH, or a closed TCP connection).
   */
  pick(ctx: LbContext | null): Host | null {
    if (this.config.useHttpHeader) {
      const v = ctx?.requestHeaders?.get(this.config.httpHeaderName);
      if (v !== undefined) return this.hostFromHeader(v.trim());
    }
    const info = ctx?.connectionInfo;
    return info !== undefined && info.localRestored ? this.host(info.localAddress, info.localPort) : null;
  }

  /** The host for `ip:port` (the port replaced by upstream_port_override when set); null for a non-IP. */
  host(ip: string, port: number): Host | null {
    if (isIP(ip) === 0 || port <= 0 || port > 65535) return null;
    const p = this.config.upstreamPortOverride ?? port;
    const key = ip.includes(':') ? `[${ip}]:${p}` : `${ip}:${p}`;
    let h = this.hosts.get(key);
    if (h === undefined) {
      h = new Host(ip, p, 1, 'HEALTHY', 0, undefined);
      this.hosts.set(key, h);
      this.owner.addHost(h);
    }
    this.used.add(h);
    return h;
  }

  /** The host named by an `ip:port` / `[ip6]:port` header value, or null when it is not one. */
  hostFromHeader(v: string): Host | null {
    const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:]+):(\d{1,5})$/.exec(v);
    return m === null ? null : this.host(m[1], Number(m[2]));
  }

  private sweep(): void {
    const stale: Host[] = [];
    for (const [k, h] of this.hosts) {
      if (this.used.has(h) || h.stats.rq_active > 0) continue;
      this.hosts.delete(k);
      stale.push(h);
    }
    this.used = new Set();
    if (stale.length > 0) this.owner.removeHosts(stale);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
