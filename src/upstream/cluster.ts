// A cluster at run time: its hosts, the picker built from them, and one connection pool
// per host and protocol. Hosts change (DNS refresh, EDS) by swapping in a new host list
// and a new picker; pools of hosts that remain are kept.
import type { ClusterConfig } from '../config/types';
import { log } from '../log';
import type { StatsStore } from '../telemetry/stats';
import { ClusterStats } from './cluster_stats';
import { ClusterResources, defaultThresholds } from './circuit_breakers';
import { resolveAll } from './dns/resolve';
import type { DnsFollowers, DnsPublisher, DnsReport } from './dns/across_workers';
import { H1Pool, type PoolSettings } from './h1_pool';
import { HealthFlag, Host } from './host';
import { leastRequest } from './lb/least_request';
import { maglev } from './lb/maglev';
import type { LbBuildContext, LbContext, LoadBalancer, LoadBalancerFactory } from './lb/picker';
import { localityKey } from './lb/priority';
import { randomLb } from './lb/random';
import { ringHash } from './lb/ring_hash';
import { roundRobin } from './lb/round_robin';
import { isHashPolicy } from './lb/config';
import { LazyInterval } from '../util/lazy_interval';
import { OriginalDstHosts } from './original_dst';
import { sourceKey, type UpstreamSource } from './source';
import type { ConnectionPool } from './pool';
import { HealthChecker } from './health/checker';
import { ACTIVE_HC_FLAGS, healthReport, HealthPublishBatch, type HealthFollower, type HealthFollowers, type HealthPublisher, type HealthReport } from './health/across_workers';
import { replayOutlierEvents, type OutlierEvents, type OutlierForwarder } from './outlier/across_workers';
import { OutlierDetector } from './outlier/detector';

export type UpstreamProtocol = 'http1' | 'http2';

/** HTTP/2 pools are provided by src/upstream/h2_pool.ts; registered there to keep this module codec-neutral. */
export type PoolFactory = (host: Host, settings: PoolSettings, stats: ClusterStats) => ConnectionPool;
const poolFactories: Partial<Record<UpstreamProtocol, PoolFactory>> = {
  http1: (host, settings, stats) => new H1Pool(host, settings, stats),
};
export function registerPoolFactory(p: UpstreamProtocol, f: PoolFactory): void {
  poolFactories[p] = f;
}

const lbFactories: Record<string, LoadBalancerFactory> = {
  ROUND_ROBIN: roundRobin,
  LEAST_REQUEST: leastRequest,
  RANDOM: randomLb,
  RING_HASH: ringHash,
  MAGLEV: maglev,
};
export function registerLbPolicy(name: string, f: LoadBalancerFactory): void {
  lbFactories[name] = f;
}
export function supportedLbPolicies(): string[] {
  return Object.keys(lbFactories);
}

/** How often pools made for one client address (original_src) are checked for disuse. */
const SOURCE_POOL_SWEEP_MS = 30_000;

/**
 * With --concurrency > 1 (health/, outlier/ and dns/across_workers.ts): the primary's clusters
 * resolve the DNS names, run the health checks and the outlier detection, and publish their
 * answers and verdicts; the workers' clusters follow them (and forward their outlier results).
 * Neither: all of it runs here.
 */
export interface SharedState {
  publisher?: HealthPublisher;
  followers?: HealthFollowers;
  dnsPublisher?: DnsPublisher;
  dnsFollowers?: DnsFollowers;
}

/** What the cluster asks of its active health checking, local or followed. */
interface ActiveHealth {
  setHosts(hosts: readonly Host[]): void;
  initialized(): Promise<void>;
  stop(): void;
}

export class Cluster {
  readonly stats: ClusterStats;
  /** Circuit breakers (max_connections, max_pending_requests, max_requests, max_retries) per priority. */
  readonly resources: ClusterResources;
  hosts: Host[] = [];
  /** True when requests to this cluster need their hash computed (RING_HASH, MAGLEV): read per request. */
  readonly usesHash: boolean;
  /** Built by rebuild() (STATIC, EDS: from the first setHosts) or in the constructor. */
  private lb!: LoadBalancer;
  private readonly lbCtx: LbBuildContext;
  private readonly pools = new Map<string, ConnectionPool>();
  private readonly sourcePools = new Map<string, ConnectionPool>();
  private readonly sourcePoolSweep = new LazyInterval(SOURCE_POOL_SWEEP_MS, () => this.sweepSourcePools());
  private readonly settings: PoolSettings;
  private dnsTimer: NodeJS.Timeout | null = null;
  /** The last DNS answer taken (STRICT_DNS, LOGICAL_DNS), as a DnsReport's endpoints; null before the first. */
  private dnsAnswer: Array<[string, string[]]> | null = null;
  private dnsAnswerKey = '';
  /** In the primary: where this DNS cluster's answers go. */
  private dnsPublisher: DnsPublisher | null = null;
  /** In a worker: stops following the primary's DNS answers. */
  private unfollowDns: (() => void) | null = null;
  /** A DNS cluster's initialization: resolved by its first answer (Envoy's STRICT_DNS and LOGICAL_DNS clusters wait for it). */
  private firstDnsAnswer: Promise<void> | null = null;
  private firstDnsAnswerTaken: (() => void) | null = null;
  /** Type ORIGINAL_DST: hosts made per destination (null for every other type). */
  readonly originalDst: OriginalDstHosts | null = null;
  private closed = false;
  /**
   * health_checks (Envoy allows one per cluster): a HealthChecker, or in a --concurrency
   * worker a HealthFollower of the primary's checker; null without active health checking.
   */
  private readonly activeHealth: ActiveHealth | null = null;
  /**
   * --concurrency: the primary keeps this cluster's active-HC and outlier state for every
   * worker (STATIC and EDS clusters with either); its health_check.* and outlier_detection.*
   * stats are the primary's.
   */
  readonly stateShared: boolean;
  /** In the primary, for a shared cluster: what goes to the workers. */
  private readonly publishBatch: HealthPublishBatch | null;
  /** In a worker, for a shared cluster: the host flags the primary reports. */
  private readonly follower: HealthFollower | null = null;
  /** outlier_detection; null when not configured (or, in a worker, when the primary runs it). */
  readonly outlierDetector: OutlierDetector | null = null;
  /** In a worker, for a shared cluster with outlier_detection: the results go to the primary's detector. */
  private readonly outlierForwarder: OutlierForwarder | null = null;
  /**
   * Active-HC flags of the hosts of the cluster this one replaces (a CDS update): a host that
   * remains keeps its health instead of starting over as failed (see setHosts).
   */
  private inherited: Map<string, number> | null = null;
  readonly lastUpdated = new Date();
  versionInfo?: string;

  constructor(
    readonly config: ClusterConfig,
    store: StatsStore,
    readonly addedViaApi = false,
    previous?: Cluster,
    shared: SharedState = {},
  ) {
    this.stats = new ClusterStats(store, config.name);
    // STATIC and EDS hosts are the same in every process (from the one config or xDS stream),
    // and so are DNS clusters' when the primary resolves for the workers; ORIGINAL_DST hosts
    // are made per worker, so with --concurrency the workers check those clusters themselves
    // and the primary not.
    const hasHc = config.healthChecks.length > 0;
    const dns = config.type === 'STRICT_DNS' || config.type === 'LOGICAL_DNS';
    const dnsShared = dns && (shared.dnsPublisher !== undefined || shared.dnsFollowers !== undefined);
    const shareable = config.type === 'STATIC' || config.type === 'EDS' || dnsShared;
    const inPrimary = shared.publisher !== undefined;
    this.stateShared = shareable && (inPrimary || shared.followers !== undefined) && (hasHc || config.outlier !== undefined);
    const batch = this.stateShared && inPrimary ? new HealthPublishBatch(config.name, shared.publisher!) : null;
    this.publishBatch = batch;
    if (this.stateShared && shared.followers !== undefined) this.follower = this.follow(shared.followers);
    if (hasHc && (shareable || !inPrimary)) {
      this.activeHealth = this.follower ?? this.checkHealth(config, store, batch, shared.publisher);
      if (previous?.activeHealth) {
        this.inherited = new Map(previous.hosts.map((h) => [h.key, h.healthFlags & ACTIVE_HC_FLAGS]));
      }
    }
    if (config.outlier !== undefined && (shareable || !inPrimary)) {
      if (this.follower !== null) this.outlierForwarder = shared.followers!.forwardOutliers(config.name);
      else {
        this.outlierDetector = new OutlierDetector(config.outlier, {
          name: config.name,
          onOutlierChanged: (h) => {
            batch?.changed(h);
            this.rebuild();
          },
        }, store);
      }
    }
    this.resources = new ClusterResources(config.circuitBreakers ?? { default: defaultThresholds(), high: defaultThresholds() }, store, config.name);
    this.settings = {
      connectTimeoutMs: config.connectTimeoutMs,
      idleTimeoutMs: config.upstreamIdleTimeoutMs,
      maxRequestsPerConnection: config.maxRequestsPerConnection,
      resources: this.resources,
      ...(config.upstreamBind ? { source: { address: config.upstreamBind.address, port: config.upstreamBind.port, transparent: false } } : {}),
    };
    this.usesHash = isHashPolicy(config.lb.policy);
    this.lbCtx = { config: config.lb, overprovisioningFactor: config.overprovisioningFactor, stats: this.stats };
    if (config.type !== 'STATIC' && config.type !== 'EDS') this.lb = this.factory().build([], this.lbCtx);
    if (config.type === 'ORIGINAL_DST') {
      this.originalDst = new OriginalDstHosts(config.originalDst ?? { cleanupIntervalMs: 5000, useHttpHeader: false, httpHeaderName: 'x-envoy-original-dst-host' }, {
        addHost: (h) => {
          this.hosts = [...this.hosts, h];
          this.stats.membership_total.set(this.hosts.length);
          this.stats.membership_healthy.set(this.hosts.length);
        },
        removeHosts: (gone) => this.setHosts(this.hosts.filter((h) => !gone.includes(h))),
      });
    } else if (config.type === 'STATIC' || config.type === 'EDS') {
      const hosts: Host[] = [];
      for (const loc of config.localities) for (const e of loc.endpoints) hosts.push(Host.fromEndpoint(e, loc.priority, loc.locality, loc.weight));
      this.setHosts(hosts);
    } else {
      // STRICT_DNS, LOGICAL_DNS: resolved here, or in a worker taken from the primary.
      this.firstDnsAnswer = new Promise((resolve) => (this.firstDnsAnswerTaken = resolve));
      if (shared.dnsFollowers !== undefined) {
        this.unfollowDns = shared.dnsFollowers.follow(config.name, (r) => this.takeDnsAnswer(r.endpoints));
      } else {
        this.dnsPublisher = shared.dnsPublisher ?? null;
        // A cluster replaced by a CDS update starts from the answer of the one it replaces, if
        // that answers its endpoints, instead of from no hosts until its own lookup is done.
        if (previous?.dnsAnswer) this.takeDnsAnswer(previous.dnsAnswer);
        void this.refreshDns();
      }
    }
  }

  private factory(): LoadBalancerFactory {
    return lbFactories[this.config.lbPolicy] ?? roundRobin;
  }

  /** EDS: a new ClusterLoadAssignment. Hosts that remain keep their pools and stats. */
  setEndpoints(localities: ClusterConfig['localities'], overprovisioningFactor = 140): void {
    this.lbCtx.overprovisioningFactor = overprovisioningFactor;
    const hosts: Host[] = [];
    for (const loc of localities) for (const e of loc.endpoints) hosts.push(Host.fromEndpoint(e, loc.priority, loc.locality, loc.weight));
    this.setHosts(hosts);
  }

  /**
   * Swaps in a new host list; pools of hosts that are gone are drained. With active health
   * checking, a new host starts as failed (and pending its first check) until a check
   * passes, and a removed host that still passes its checks stays, flagged
   * /pending_dynamic_removal, until it fails one (unless ignore_health_on_host_removal), as
   * Envoy's dynamic clusters do.
   * https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/service_discovery#on-eventually-consistent-service-discovery
   */
  setHosts(hosts: Host[]): void {
    const hc = this.activeHealth;
    const old = new Map(this.hosts.map((h) => [h.key, h]));
    const incoming = new Set(hosts.map((h) => h.key));
    // Removed hosts that active health checking still vouches for.
    const retained: Host[] = [];
    if (hc !== null && !this.config.ignoreHealthOnHostRemoval) {
      for (const h of this.hosts) {
        if (incoming.has(h.key) || h.healthCheckConfig?.disableActiveHealthCheck) continue;
        if (h.healthFlags & (HealthFlag.FAILED_ACTIVE_HC | HealthFlag.FAILED_EDS_HEALTH)) continue;
        h.healthFlags |= HealthFlag.PENDING_DYNAMIC_REMOVAL;
        retained.push(h);
      }
    }
    const keep = new Set([...incoming, ...retained.map((h) => h.key)]);
    for (const [k, p] of this.pools) {
      const hostKey = k.slice(k.indexOf('|') + 1);
      if (!keep.has(hostKey)) {
        p.drain();
        this.pools.delete(k);
        const h = old.get(hostKey);
        if (h !== undefined) h.h1Pool = h.h2Pool = null;
      }
    }
    // Keep the Host objects (and their stats and health) of endpoints that remain.
    let membershipChanged = keep.size !== old.size;
    // Anything the load balancer or health checking reads changed (else nothing is rebuilt).
    let changed = retained.length > 0;
    this.hosts = hosts.map((h) => {
      const o = old.get(h.key);
      if (o === undefined) {
        membershipChanged = true;
        if (hc !== null && !h.healthCheckConfig?.disableActiveHealthCheck) {
          const carried = this.inherited?.get(h.key);
          h.healthFlags |= carried ?? HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC;
        }
        return h;
      }
      // A host that moves to another priority or locality leaves one host set for another (Envoy counts that as a change).
      if (o.priority !== h.priority || localityKey(o) !== localityKey(h)) membershipChanged = true;
      const eds = HealthFlag.FAILED_EDS_HEALTH | HealthFlag.DEGRADED_EDS_HEALTH;
      const flags = (o.healthFlags & ~(eds | HealthFlag.PENDING_DYNAMIC_REMOVAL)) | (h.healthFlags & eds);
      if (!changed) changed = flags !== o.healthFlags || o.weight !== h.weight || o.ip !== h.ip || o.hostname !== h.hostname || o.localityWeight !== h.localityWeight || o.hashKey !== h.hashKey || !sameHealthCheckConfig(o, h);
      o.weight = h.weight;
      o.priority = h.priority;
      o.locality = h.locality;
      o.hostname = h.hostname;
      o.ip = h.ip;
      o.localityWeight = h.localityWeight;
      o.hashKey = h.hashKey;
      o.healthCheckConfig = h.healthCheckConfig;
      // EDS health comes with the assignment; active-HC and outlier flags stay the host's own.
      o.edsHealth = h.edsHealth;
      o.healthFlags = flags;
      return o;
    });
    if (retained.length > 0) this.hosts.push(...retained);
    if (!membershipChanged && !changed && this.lb !== undefined) {
      // The same hosts as they were (every SotW push resends every assignment): as Envoy, no
      // rebuild, so the load balancer keeps its state (a round robin its place).
      this.stats.update_no_rebuild.inc();
      return;
    }
    (this.follower ?? hc)?.setHosts(this.hosts);
    this.outlierDetector?.setHosts(this.hosts);
    this.outlierForwarder?.setHosts(this.hosts);
    this.rebuild();
    // Envoy counts a change of the host set, not an update that names the same hosts.
    if (membershipChanged) this.stats.membership_change.inc();
    // The workers get the new host list's whole state: flags of hosts that left do not linger
    // there for a host that comes back (nor for a cluster of the same name made again).
    this.publishBatch?.full(this.hosts);
  }

  /**
   * Runs the checks here. In the primary (a publisher), every change goes into `batch` for the
   * workers, and the cluster counts as having carried traffic once a worker says it has.
   */
  private checkHealth(config: ClusterConfig, store: StatsStore, batch: HealthPublishBatch | null, publisher: HealthPublisher | undefined): HealthChecker {
    return new HealthChecker(config.healthChecks[0], {
      name: config.name,
      hadTraffic: publisher === undefined ? () => this.stats.upstream_cx_total.value > 0 : () => publisher.hadTraffic(config.name),
      onHealthChanged: (h) => {
        // Noted first, with the flags as they are now: a failing host awaiting removal goes
        // out with its verdict, so the workers remove it too.
        batch?.changed(h);
        this.onActiveHealthChanged(h);
      },
      onCheckPassed: (h) => this.outlierDetector?.onActiveCheckPassed(h),
    }, store);
  }

  /** Takes the host flags the primary reports (a --concurrency worker). */
  private follow(followers: HealthFollowers): HealthFollower {
    return followers.follow({
      name: this.config.name,
      hadTraffic: () => this.stats.upstream_cx_total.value > 0,
      onHealthChanged: (h) => this.onActiveHealthChanged(h),
    });
  }

  /** The flags the primary keeps for the workers, of every host (sent to a worker that joins); null when not shared. */
  sharedStateReport(): HealthReport | null {
    return this.publishBatch === null ? null : healthReport(this.config.name, this.hosts);
  }

  /** The primary: outlier-detection results a worker forwarded. */
  replayOutliers(events: OutlierEvents): void {
    if (this.outlierDetector !== null) replayOutlierEvents(this.hosts, events);
  }

  /** A host's health changed (a check, or in a worker the primary's report): a host awaiting removal that now fails goes; else rebuild. */
  private onActiveHealthChanged(host: Host): void {
    if (this.closed) return;
    const f = host.healthFlags;
    if (f & HealthFlag.PENDING_DYNAMIC_REMOVAL && f & HealthFlag.FAILED_ACTIVE_HC) {
      this.setHosts(this.hosts.filter((h) => h !== host));
      return;
    }
    this.rebuild();
  }

  /**
   * Resolves once the cluster is initialized, as Envoy's: a DNS cluster has its first answer
   * (found or not), and the first round of active health checks is done, so traffic does not
   * meet a cluster with no hosts yet, nor hosts still marked failed.
   */
  async initialized(): Promise<void> {
    if (this.firstDnsAnswer !== null) await this.firstDnsAnswer;
    await this.activeHealth?.initialized();
  }

  /** Rebuilds the picker after a host or health change. */
  rebuild(): void {
    this.lb = this.factory().build(this.hosts, this.lbCtx);
    this.stats.membership_total.set(this.hosts.length);
    let healthy = 0;
    for (const h of this.hosts) if (h.healthy) healthy++;
    this.stats.membership_healthy.set(healthy);
  }

  pick(ctx: LbContext | null): Host | null {
    return this.originalDst === null ? this.lb.pick(ctx) : this.originalDst.pick(ctx);
  }

  /** upstream_bind_config's source for upstream connections (undefined: the kernel picks). */
  get source(): UpstreamSource | undefined {
    return this.settings.source;
  }

  /**
   * A pool whose connections come from `source` (original_src: the downstream client's
   * address), shared only by requests from that client. Unused ones are drained by a sweep.
   */
  sourcePool(host: Host, protocol: UpstreamProtocol, source: UpstreamSource): ConnectionPool {
    const k = protocol + '|' + host.key + '|' + sourceKey(source);
    let p = this.sourcePools.get(k);
    if (p === undefined) {
      const f = poolFactories[protocol];
      if (f === undefined) throw new Error(`no ${protocol} connection pool available`);
      p = f(host, { ...this.settings, source }, this.stats);
      this.sourcePools.set(k, p);
      this.sourcePoolSweep.ensure();
    }
    return p;
  }

  private sweepSourcePools(): boolean {
    for (const [k, p] of this.sourcePools) {
      if (p.activeStreams > 0) continue;
      p.drain();
      this.sourcePools.delete(k);
    }
    return this.sourcePools.size > 0;
  }

  pool(host: Host, protocol: UpstreamProtocol): ConnectionPool {
    // The host caches its pools so the request path does no key building or map lookup.
    const cached = protocol === 'http1' ? host.h1Pool : host.h2Pool;
    if (cached !== null && cached.owner === this) return cached.pool;
    const k = protocol + '|' + host.key;
    let p = this.pools.get(k);
    if (p === undefined) {
      const f = poolFactories[protocol];
      if (f === undefined) throw new Error(`no ${protocol} connection pool available`);
      p = f(host, this.settings, this.stats);
      this.pools.set(k, p);
    }
    if (protocol === 'http1') host.h1Pool = { owner: this, pool: p };
    else host.h2Pool = { owner: this, pool: p };
    return p;
  }

  /**
   * Resolves the endpoints' names (here, or in the primary for every worker), then again after
   * dns_refresh_rate. A name that fails to resolve keeps the addresses it had (none at first).
   */
  private async refreshDns(): Promise<void> {
    if (this.closed) return;
    const logical = this.config.type === 'LOGICAL_DNS';
    const answer: Array<[string, string[]]> = [];
    for (const loc of this.config.localities) {
      for (const e of loc.endpoints) {
        const name = endpointName(e);
        let ips: string[];
        try {
          const found = await resolveAll(e.address.address, this.config.dnsLookupFamily);
          // LOGICAL_DNS uses only the first address of the first endpoint (Envoy's semantics).
          ips = logical ? found.slice(0, 1) : found.sort();
        } catch (err) {
          log.warn('dns resolution failed', { cluster: this.config.name, name: e.address.address, error: (err as Error).message });
          const last = this.dnsAnswer?.[answer.length];
          ips = last !== undefined && last[0] === name ? last[1] : [];
        }
        answer.push([name, ips]);
        if (logical) break;
      }
      if (logical) break;
    }
    if (!this.closed) {
      this.takeDnsAnswer(answer);
      this.dnsTimer = setTimeout(() => void this.refreshDns(), this.config.dnsRefreshRateMs);
      this.dnsTimer.unref();
    }
  }

  /**
   * A DNS answer, resolved here or (in a worker) by the primary: the cluster's hosts, when the
   * answer differs from the last one (Envoy counts membership_change only for a change). The
   * primary passes it on to the workers first, so their hosts change before their health reports.
   */
  private takeDnsAnswer(answer: Array<[string, string[]]>): void {
    const key = JSON.stringify(answer);
    if (key === this.dnsAnswerKey) return;
    const hosts = this.hostsFromAnswer(answer);
    // An answer for endpoints this cluster does not have (a CDS update changed them since): the next one is for these.
    if (hosts === null) return;
    this.dnsAnswer = answer;
    this.dnsAnswerKey = key;
    this.dnsPublisher?.publish({ cluster: this.config.name, endpoints: answer });
    this.setHosts(hosts);
    this.dnsInitialized();
  }

  private dnsInitialized(): void {
    this.firstDnsAnswerTaken?.();
    this.firstDnsAnswerTaken = null;
  }

  /** Hosts from a DNS answer, or null when it does not answer exactly this cluster's endpoints. */
  private hostsFromAnswer(answer: Array<[string, string[]]>): Host[] | null {
    const hosts: Host[] = [];
    let i = 0;
    for (const loc of this.config.localities) {
      for (const e of loc.endpoints) {
        if (i === answer.length) return this.config.type === 'LOGICAL_DNS' && i === 1 ? hosts : null;
        const [name, ips] = answer[i++];
        if (name !== endpointName(e)) return null;
        for (const ip of ips) hosts.push(Host.fromEndpoint(e, loc.priority, loc.locality, loc.weight, ip));
      }
    }
    return i === answer.length ? hosts : null;
  }

  /** In the primary, for a DNS cluster: its last answer (sent to a worker that joins); null when none or not shared. */
  dnsReport(): DnsReport | null {
    return this.dnsPublisher === null || this.dnsAnswer === null ? null : { cluster: this.config.name, endpoints: this.dnsAnswer };
  }

  /** Stops everything that watches the hosts (health, outliers, DNS, original_dst, the source-pool sweep); no one waits for its initialization any more. */
  private stop(): void {
    this.closed = true;
    (this.follower ?? this.activeHealth)?.stop();
    this.outlierDetector?.stop();
    this.outlierForwarder?.stop();
    this.originalDst?.close();
    this.sourcePoolSweep.stop();
    if (this.dnsTimer) clearTimeout(this.dnsTimer);
    this.unfollowDns?.();
    this.dnsInitialized();
  }

  /** The cluster is being replaced or removed: finish in-flight requests, then close. */
  drain(): void {
    this.stop();
    for (const p of this.pools.values()) p.drain();
    for (const p of this.sourcePools.values()) p.drain();
  }

  destroy(): void {
    this.stop();
    for (const p of this.pools.values()) p.destroy();
    for (const p of this.sourcePools.values()) p.destroy();
    this.pools.clear();
    this.sourcePools.clear();
  }
}

/** An endpoint's name and port as configured (what a DNS answer is matched on). */
function endpointName(e: ClusterConfig['localities'][number]['endpoints'][number]): string {
  return e.address.address + ':' + e.address.port;
}

function sameHealthCheckConfig(a: Host, b: Host): boolean {
  return a.healthCheckConfig === b.healthCheckConfig || JSON.stringify(a.healthCheckConfig) === JSON.stringify(b.healthCheckConfig);
}
