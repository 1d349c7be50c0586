// One upstream endpoint of a cluster, with its per-host counters (what /clusters shows).
import type { EndpointConfig, HealthStatus } from '../config/types';
import type { ConnectionPool } from './pool';
import type { EndpointHealthCheckConfig } from './health/config';
import type { OutlierSink } from './outlier/host_monitor';

/** Health flags as Envoy prints them in /clusters (health_flags). */
export const enum HealthFlag {
  FAILED_ACTIVE_HC = 1,
  FAILED_OUTLIER_CHECK = 2,
  FAILED_EDS_HEALTH = 4,
  DEGRADED_EDS_HEALTH = 8,
  PENDING_DYNAMIC_REMOVAL = 16,
  /** Active health checks say degraded (the response carried x-envoy-degraded). */
  DEGRADED_ACTIVE_HC = 32,
  /** A new host whose first active health check has not completed. */
  PENDING_ACTIVE_HC = 64,
}

export class HostStats {
  cx_total = 0;
  cx_active = 0;
  cx_connect_fail = 0;
  rq_total = 0;
  rq_active = 0;
  rq_success = 0;
  rq_error = 0;
  rq_timeout = 0;
}

export class Host {
  readonly stats = new HostStats();
  /** Bit set of HealthFlag. */
  healthFlags = 0;
  /** Resolved IP to connect to (for DNS clusters, the resolved address). */
  ip: string;
  readonly key: string;
  /** Pools for this host, cached by the cluster that made them (Cluster.pool). */
  h1Pool: { owner: object; pool: ConnectionPool } | null = null;
  h2Pool: { owner: object; pool: ConnectionPool } | null = null;
  /** The locality's load_balancing_weight (0 when unset: no traffic under locality-weighted balancing, as in Envoy). */
  localityWeight = 0;
  /** metadata envoy.lb hash_key, when set: the key ring hash and Maglev place this host by. */
  hashKey: string | undefined;
  /** endpoint.health_check_config: another port or Host for active checks, or none. */
  healthCheckConfig: EndpointHealthCheckConfig | undefined;
  /** Where the router reports this host's results: its outlier detector's monitor, or in a --concurrency worker a forwarder to the primary's (null: no outlier_detection). */
  outlier: OutlierSink | null = null;

  constructor(
    readonly address: string,
    readonly port: number,
    public weight: number,
    public edsHealth: HealthStatus,
    // Updated in place when an update moves the endpoint (Cluster.setHosts), as Envoy's are.
    public priority: number,
    public locality: { region?: string; zone?: string; sub_zone?: string } | undefined,
    public hostname: string = '',
  ) {
    this.ip = address;
    this.key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    if (edsHealth === 'UNHEALTHY' || edsHealth === 'DRAINING' || edsHealth === 'TIMEOUT') this.healthFlags |= HealthFlag.FAILED_EDS_HEALTH;
    if (edsHealth === 'DEGRADED') this.healthFlags |= HealthFlag.DEGRADED_EDS_HEALTH;
  }

  /**
   * The host of an endpoint; for a DNS cluster, `resolved` is one address its name resolved
   * to (the name is then the host's hostname unless the endpoint gives one).
   */
  static fromEndpoint(e: EndpointConfig, priority: number, locality?: Host['locality'], localityWeight = 0, resolved?: string): Host {
    const h = resolved === undefined
      ? new Host(e.address.address, e.address.port, e.weight, e.healthStatus, priority, locality, e.hostname)
      : new Host(resolved, e.address.port, e.weight, e.healthStatus, priority, locality, e.hostname || e.address.address);
    h.localityWeight = localityWeight;
    h.hashKey = e.hashKey;
    h.healthCheckConfig = e.healthCheck;
    return h;
  }

  /** Not failed by any health source (a degraded host is still "healthy" here). */
  get healthy(): boolean {
    return (this.healthFlags & (HealthFlag.FAILED_ACTIVE_HC | HealthFlag.FAILED_OUTLIER_CHECK | HealthFlag.FAILED_EDS_HEALTH)) === 0;
  }

  /** Envoy's coarse health: 0 healthy, 1 degraded, 2 unhealthy. Load balancers treat degraded hosts apart. */
  get coarseHealth(): 0 | 1 | 2 {
    if (!this.healthy) return 2;
    return this.healthFlags & (HealthFlag.DEGRADED_EDS_HEALTH | HealthFlag.DEGRADED_ACTIVE_HC) ? 1 : 0;
  }

  /** The key ring hash and Maglev hash this host by (Envoy's hashKey()): hostname, metadata hash_key, or "ip:port". */
  placementKey(useHostname: boolean): string {
    if (useHostname) return this.hostname;
    return this.hashKey ?? this.key;
  }

  /** Envoy's textual health_flags for /clusters: 'healthy' or '/failed_active_hc/...'. */
  healthFlagsText(): string {
    if (this.healthFlags === 0) return 'healthy';
    let s = '';
    if (this.healthFlags & HealthFlag.FAILED_ACTIVE_HC) s += '/failed_active_hc';
    if (this.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) s += '/failed_outlier_check';
    if (this.healthFlags & HealthFlag.FAILED_EDS_HEALTH) s += '/failed_eds_health';
    if (this.healthFlags & HealthFlag.DEGRADED_ACTIVE_HC) s += '/degraded_active_hc';
    if (this.healthFlags & HealthFlag.DEGRADED_EDS_HEALTH) s += '/degraded_eds_health';
    if (this.healthFlags & HealthFlag.PENDING_DYNAMIC_REMOVAL) s += '/pending_dynamic_removal';
    if (this.healthFlags & HealthFlag.PENDING_ACTIVE_HC) s += '/pending_active_hc';
    return s;
  }
}
