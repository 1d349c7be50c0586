// Active health checking with --concurrency > 1. Envoy runs a cluster's health checker once,
// on its main thread, and every worker thread balances on its verdicts. Switchyard does the
// same with processes: the primary's config server (which holds every cluster but carries no
// traffic) runs the checks, and sends each change to the workers; a worker's clusters run no
// checks of their own and take the active-HC flags the primary reports (HealthFollower).
// That holds for STATIC and EDS clusters, whose hosts are the same in every process, and for
// DNS clusters, which the primary resolves for the workers (dns/across_workers.ts); a worker
// checks its ORIGINAL_DST clusters itself (see Cluster).
// What a check interval depends on, whether the cluster has carried traffic, is only known in
// the workers: each tells the primary once per cluster name, the first time it sees traffic.
// Outlier detection is shared the same way (outlier/across_workers.ts): the workers send their
// results to the primary, and its ejections come back here as FAILED_OUTLIER_CHECK.
import { LazyInterval } from '../../util/lazy_interval';
import { HealthFlag, type Host } from '../host';
import { OutlierForwarder, type OutlierEvents } from '../outlier/across_workers';

/** The flags active health checking owns. */
export const ACTIVE_HC_FLAGS = HealthFlag.FAILED_ACTIVE_HC | HealthFlag.DEGRADED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC;

/** The flags the primary sets for the workers: active health checking's and outlier detection's. */
export const PRIMARY_FLAGS = ACTIVE_HC_FLAGS | HealthFlag.FAILED_OUTLIER_CHECK;

/**
 * One cluster's host flags as the primary sends them (PRIMARY_FLAGS): in full when a worker
 * joins and whenever the cluster's host list changes, else as the hosts that changed, gathered
 * over one turn of the event loop (so that a round of checks over many hosts costs one
 * message, not one per host with every host in it).
 */
export interface HealthReport {
  cluster: string;
  /** Every host (full) or the ones that changed: [host key, its PRIMARY_FLAGS]. */
  hosts: Array<[string, number]>;
  /** True when `hosts` is the cluster's whole state (it replaces what the worker had). */
  full: boolean;
}

/** The checking side (the primary's config server): where its clusters send their state. */
export interface HealthPublisher {
  publish(r: HealthReport): void;
  /** Whether a worker has reported traffic on a cluster of this name. */
  hadTraffic(cluster: string): boolean;
}

/** The whole state of a cluster's hosts, as the primary holds it. */
export function healthReport(cluster: string, hosts: readonly Host[]): HealthReport {
  const out: Array<[string, number]> = [];
  for (const h of hosts) out.push([h.key, h.healthFlags & PRIMARY_FLAGS]);
  return { cluster, hosts: out, full: true };
}

/**
 * The primary's side of one cluster: changes are noted as they happen (the flags as they are
 * then, so a host removed right after still goes out with its verdict) and published
 * together once the event loop's turn ends.
 */
export class HealthPublishBatch {
  private readonly changes = new Map<string, number>();
  private scheduled = false;

  constructor(
    private readonly cluster: string,
    private readonly publisher: HealthPublisher,
  ) {}

  changed(h: Host): void {
    this.changes.set(h.key, h.healthFlags & PRIMARY_FLAGS);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(publishBatch, this);
  }

  /**
   * Publishes the whole state now. Changes noted for hosts in it are in it; a change noted for
   * a host no longer listed (a failing host awaiting removal, just removed) still goes out
   * after it, so the workers remove that host too.
   */
  full(hosts: readonly Host[]): void {
    for (const h of hosts) this.changes.delete(h.key);
    this.publisher.publish(healthReport(this.cluster, hosts));
  }

  /** @internal */
  flush(): void {
    this.scheduled = false;
    if (this.changes.size === 0) return;
    this.publisher.publish({ cluster: this.cluster, hosts: [...this.changes], full: false });
    this.changes.clear();
  }
}

function publishBatch(b: HealthPublishBatch): void {
  b.flush();
}

/** A worker's cluster as its HealthFollower sees it. */
export interface FollowingCluster {
  readonly name: string;
  hadTraffic(): boolean;
  /** The primary changed `host`'s flags (a health verdict, an ejection or a return). */
  onHealthChanged(host: Host): void;
}

/** What a worker sends the primary. */
export interface ToPrimary {
  /** A cluster of this name carried traffic. */
  traffic(cluster: string): void;
  /** Outlier-detection results of a cluster's hosts. */
  outliers(cluster: string, events: OutlierEvents): void;
}

const TRAFFIC_POLL_MS = 1000;

/** In a worker: the latest report per cluster name, and the clusters that follow them. */
export class HealthFollowers {
  /** Per cluster name: host key → the flags (PRIMARY_FLAGS) the primary last reported. */
  private readonly latest = new Map<string, Map<string, number>>();
  private readonly live = new Map<string, HealthFollower>();
  /** Cluster names whose traffic was reported to the primary (stats persist by name, so once is enough). */
  private readonly trafficSent = new Set<string>();
  private readonly trafficPoll = new LazyInterval(TRAFFIC_POLL_MS, () => this.pollTraffic());

  constructor(private readonly toPrimary: ToPrimary) {}

  /**
   * A report from the primary: kept for clusters made later, applied to the one following it
   * now. The primary sends the whole state whenever a cluster's host list changes, so entries
   * of hosts that left do not outlive the next list.
   */
  deliver(r: HealthReport): void {
    let m = this.latest.get(r.cluster);
    if (m === undefined || r.full) this.latest.set(r.cluster, (m = new Map()));
    for (const [k, f] of r.hosts) m.set(k, f);
    this.live.get(r.cluster)?.apply(new Map(r.hosts), true);
  }

  /** A worker cluster's outlier results, for the primary's detector. */
  forwardOutliers(cluster: string): OutlierForwarder {
    return new OutlierForwarder(cluster, (c, events) => this.toPrimary.outliers(c, events));
  }

  follow(cluster: FollowingCluster): HealthFollower {
    const f = new HealthFollower(this, cluster);
    this.live.set(cluster.name, f);
    if (!this.trafficSent.has(cluster.name)) this.trafficPoll.ensure();
    return f;
  }

  /** Whether a cluster of this name takes its health from the primary. */
  isFollowing(name: string): boolean {
    return this.live.has(name);
  }

  /** @internal */
  reportFor(name: string): Map<string, number> | undefined {
    return this.latest.get(name);
  }

  /** @internal */
  unfollow(f: HealthFollower): void {
    if (this.live.get(f.cluster.name) === f) this.live.delete(f.cluster.name);
  }

  /** Whether any followed cluster may still have traffic to report (false stops the poll). */
  private pollTraffic(): boolean {
    let waiting = false;
    for (const [name, f] of this.live) {
      if (this.trafficSent.has(name)) continue;
      if (f.cluster.hadTraffic()) {
        this.trafficSent.add(name);
        this.toPrimary.traffic(name);
      } else waiting = true;
    }
    return waiting;
  }
}

/** A worker's cluster's host flags (PRIMARY_FLAGS), as the primary reports them. */
export class HealthFollower {
  private hosts: readonly Host[] = [];
  private waiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly followers: HealthFollowers,
    readonly cluster: FollowingCluster,
  ) {}

  /** The cluster's hosts changed: the last report applies to them at once (no callbacks: the cluster is rebuilding). */
  setHosts(hosts: readonly Host[]): void {
    this.hosts = hosts;
    const r = this.followers.reportFor(this.cluster.name);
    if (r !== undefined) this.apply(r, false);
    else this.settle();
  }

  /** Applies reported flags to the hosts they name (others keep theirs). */
  apply(flags: ReadonlyMap<string, number>, notify: boolean): void {
    if (this.stopped) return;
    const changed: Host[] = [];
    for (const h of this.hosts) {
      const f = flags.get(h.key);
      if (f === undefined) continue;
      const next = (h.healthFlags & ~PRIMARY_FLAGS) | (f & PRIMARY_FLAGS);
      if (next === h.healthFlags) continue;
      h.healthFlags = next;
      changed.push(h);
    }
    if (notify) for (const h of changed) this.cluster.onHealthChanged(h);
    this.settle();
  }

  /** Resolves once no host awaits its first verdict from the primary (the cluster's initialization waits for this). */
  initialized(): Promise<void> {
    if (this.stopped || !this.pending()) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    this.followers.unfollow(this);
    this.release();
  }

  private pending(): boolean {
    for (const h of this.hosts) if (h.healthFlags & HealthFlag.PENDING_ACTIVE_HC) return true;
    return false;
  }

  private settle(): void {
    if (this.waiters.length > 0 && !this.pending()) this.release();
  }

  private release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
