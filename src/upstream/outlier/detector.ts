// A cluster's outlier detector (Envoy's Outlier::DetectorImpl): consecutive-error ejections
// happen as the errors are reported; success-rate and failure-percentage ejections, and
// un-ejections, at each `interval` sweep. An ejected host carries
// HealthFlag.FAILED_OUTLIER_CHECK and the cluster rebuilds its picker.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier
// https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/cluster_stats#outlier-detection-statistics
import { log } from '../../log';
import type { Counter, Gauge, StatsStore } from '../../telemetry/stats';
import { HealthFlag, type Host } from '../host';
import type { OutlierConfig } from './config';
import { EjectionType, HostMonitor, type MonitorOwner, type SuccessRateBuckets } from './host_monitor';

const TYPE_NAMES = [
  'consecutive_5xx', 'consecutive_gateway_failure', 'consecutive_local_origin_failure', 'success_rate',
  'local_origin_success_rate', 'failure_percentage', 'failure_percentage_local_origin',
] as const;

export class OutlierStats {
  readonly ejections_active: Gauge;
  readonly ejections_overflow: Counter;
  readonly ejections_enforced_total: Counter;
  /** Deprecated in Envoy but still emitted there: every ejection detected (consecutive ones and success rate). */
  readonly ejections_total: Counter;
  readonly ejections_consecutive_5xx: Counter;
  readonly ejections_success_rate: Counter;
  readonly enforced: Counter[];
  readonly detected: Counter[];
  constructor(store: StatsStore, cluster: string) {
    const p = `cluster.${cluster}.outlier_detection.`;
    this.ejections_active = store.gauge(p + 'ejections_active');
    this.ejections_overflow = store.counter(p + 'ejections_overflow');
    this.ejections_enforced_total = store.counter(p + 'ejections_enforced_total');
    this.ejections_total = store.counter(p + 'ejections_total');
    this.ejections_consecutive_5xx = store.counter(p + 'ejections_consecutive_5xx');
    this.ejections_success_rate = store.counter(p + 'ejections_success_rate');
    this.enforced = TYPE_NAMES.map((n) => store.counter(p + 'ejections_enforced_' + n));
    this.detected = TYPE_NAMES.map((n) => store.counter(p + 'ejections_detected_' + n));
  }
}

export interface DetectorOwner {
  readonly name: string;
  /** A host was ejected or returned: rebuild the picker. */
  onOutlierChanged(host: Host): void;
}

/** Mean and ejection threshold of a success-rate sweep (-1 when there were too few hosts). */
export interface SuccessRateThreshold {
  mean: number;
  threshold: number;
}

/**
 * Envoy's success-rate threshold: mean − stdev_factor × (population) standard deviation.
 * E.g. rates {50, 100, 100, 100, 100} with factor 1.9: mean 90, stdev 20, threshold 52.
 */
export function successRateThreshold(rates: readonly number[], stdevFactor: number): SuccessRateThreshold {
  let sum = 0;
  for (const r of rates) sum += r;
  const mean = sum / rates.length;
  let variance = 0;
  for (const r of rates) variance += (r - mean) * (r - mean);
  variance /= rates.length;
  return { mean, threshold: mean - stdevFactor * Math.sqrt(variance) };
}

export class OutlierDetector implements MonitorOwner {
  readonly stats: OutlierStats;
  readonly monitors = new Map<Host, HostMonitor>();
  private ejectionsActive = 0;
  private timer: NodeJS.Timeout | null = null;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly split: boolean;
  /** The last sweep's figures, for /clusters (?format=json: outlier detection per cluster). */
  external: SuccessRateThreshold = { mean: -1, threshold: -1 };
  localOrigin: SuccessRateThreshold = { mean: -1, threshold: -1 };

  constructor(
    readonly cfg: OutlierConfig,
    private readonly owner: DetectorOwner,
    store: StatsStore,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
    startTimer = true,
  ) {
    this.stats = new OutlierStats(store, owner.name);
    this.consecutive5xx = cfg.consecutive5xx;
    this.consecutiveGatewayFailure = cfg.consecutiveGatewayFailure;
    this.consecutiveLocalOriginFailure = cfg.consecutiveLocalOriginFailure;
    this.split = cfg.splitExternalLocalOriginErrors;
    if (startTimer) {
      this.timer = setInterval(() => this.sweep(), cfg.intervalMs);
      this.timer.unref();
    }
  }

  /** Monitors hosts new to the detector; forgets hosts no longer listed (an ejected one stops counting as ejected). */
  setHosts(hosts: readonly Host[]): void {
    const keep = new Set(hosts);
    for (const [h, m] of this.monitors) {
      if (keep.has(h)) continue;
      this.monitors.delete(h);
      if (h.outlier === m) h.outlier = null;
      if (h.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) {
        h.healthFlags &= ~HealthFlag.FAILED_OUTLIER_CHECK;
        this.ejectionsActive--;
      }
    }
    for (const h of hosts) {
      if (this.monitors.has(h)) continue;
      const m = new HostMonitor(h, this);
      this.monitors.set(h, m);
      h.outlier = m;
    }
    this.stats.ejections_active.set(this.ejectionsActive);
  }

  /** A host hit a consecutive-error threshold (called from HostMonitor, on the request path). */
  onConsecutive(host: Host, type: EjectionType): void {
    const m = this.monitors.get(host);
    if (m === undefined || host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) return;
    this.stats.detected[type].inc();
    this.stats.ejections_total.inc();
    if (type === EjectionType.Consecutive5xx) this.stats.ejections_consecutive_5xx.inc();
    this.eject(m, type);
    // Counting starts over, so that a bout of errors is detected again after un-ejection.
    if (type === EjectionType.Consecutive5xx) m.consecutive5xxCount = 0;
    else if (type === EjectionType.ConsecutiveGatewayFailure) m.consecutiveGatewayCount = 0;
    else m.consecutiveLocalOriginCount = 0;
  }

  private enforcing(type: EjectionType): number {
    const c = this.cfg;
    switch (type) {
      case EjectionType.Consecutive5xx: return c.enforcingConsecutive5xx;
      case EjectionType.ConsecutiveGatewayFailure: return c.enforcingConsecutiveGatewayFailure;
      case EjectionType.ConsecutiveLocalOriginFailure: return c.enforcingConsecutiveLocalOriginFailure;
      case EjectionType.SuccessRate: return c.enforcingSuccessRate;
      case EjectionType.SuccessRateLocalOrigin: return c.enforcingLocalOriginSuccessRate;
      case EjectionType.FailurePercentage: return c.enforcingFailurePercentage;
      case EjectionType.FailurePercentageLocalOrigin: return c.enforcingFailurePercentageLocalOrigin;
    }
  }

  /**
   * Ejects unless that would take the ejected share of the cluster over
   * max_ejection_percent (always_eject_one_host lifts that for the first one); each kind is
   * enforced only with its enforcing_* chance.
   */
  private eject(m: HostMonitor, type: EjectionType): void {
    const maxPct = Math.min(100, this.cfg.maxEjectionPercent);
    const pct = (100 * (this.ejectionsActive + 1)) / this.monitors.size;
    if (!(pct <= maxPct || (this.cfg.alwaysEjectOneHost && this.ejectionsActive === 0))) {
      this.stats.ejections_overflow.inc();
      return;
    }
    if (!(this.random() * 100 < this.enforcing(type))) return;
    const now = this.now();
    this.ejectionsActive++;
    this.stats.ejections_active.set(this.ejectionsActive);
    this.stats.ejections_enforced_total.inc();
    this.stats.enforced[type].inc();
    m.host.healthFlags |= HealthFlag.FAILED_OUTLIER_CHECK;
    m.numEjections++;
    m.lastEjectionMs = now;
    m.jitterMs = Math.floor(this.random() * (this.cfg.maxEjectionTimeJitterMs + 1));
    // The multiplier grows with each ejection until base × multiplier reaches max_ejection_time.
    if (m.backoff * this.cfg.baseEjectionTimeMs < this.cfg.maxEjectionTimeMs) m.backoff++;
    log.warn('host ejected by outlier detection', { cluster: this.owner.name, host: m.host.key, type: TYPE_NAMES[type], ejectionMs: this.ejectionTimeMs(m) });
    this.owner.onOutlierChanged(m.host);
  }

  /** How long `m`'s current ejection lasts: base × multiplier, capped at max_ejection_time, plus its jitter. */
  ejectionTimeMs(m: HostMonitor): number {
    return Math.min(this.cfg.baseEjectionTimeMs * m.backoff, this.cfg.maxEjectionTimeMs) + m.jitterMs;
  }

  private uneject(m: HostMonitor, now: number): void {
    this.ejectionsActive--;
    this.stats.ejections_active.set(this.ejectionsActive);
    m.host.healthFlags &= ~HealthFlag.FAILED_OUTLIER_CHECK;
    m.resetConsecutive();
    m.lastUnejectionMs = now;
    log.info('host returned by outlier detection', { cluster: this.owner.name, host: m.host.key });
    this.owner.onOutlierChanged(m.host);
  }

  /** successful_active_health_check_uneject_host: a passing active check returns an ejected host. */
  onActiveCheckPassed(host: Host): void {
    if (!this.cfg.successfulActiveHealthCheckUnejectHost) return;
    const m = this.monitors.get(host);
    if (m !== undefined && host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) this.uneject(m, this.now());
  }

  /** The interval sweep: un-eject hosts whose time is up, then success-rate and failure-percentage ejections. */
  sweep(): void {
    const now = this.now();
    for (const m of this.monitors.values()) {
      if (m.host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) {
        if (now - m.lastEjectionMs >= this.ejectionTimeMs(m)) this.uneject(m, now);
      } else if (m.lastUnejectionMs >= 0 && now - m.lastUnejectionMs >= this.cfg.baseEjectionTimeMs && m.backoff > 0) {
        // A host that has behaved for a base ejection time since coming back sheds one step.
        m.backoff--;
      }
      m.external.swap();
      m.localOrigin.swap();
      m.external.rate = -1;
      m.localOrigin.rate = -1;
    }
    this.external = this.rateEjections(false);
    // Local-origin rates exist only when errors are split.
    if (this.split) this.localOrigin = this.rateEjections(true);
  }

  private rateEjections(local: boolean): SuccessRateThreshold {
    const c = this.cfg;
    const none = { mean: -1, threshold: -1 };
    const n = this.monitors.size;
    if (n < c.successRateMinimumHosts && n < c.failurePercentageMinimumHosts) return none;
    const srHosts: Array<[HostMonitor, number]> = [];
    const fpHosts: Array<[HostMonitor, number]> = [];
    const minVolume = Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume);
    for (const m of this.monitors.values()) {
      if (m.host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) continue;
      const b: SuccessRateBuckets = local ? m.localOrigin : m.external;
      if (b.lastTotal === 0) continue;
      const rate = (b.lastSuccess * 100) / b.lastTotal;
      if (b.lastTotal >= minVolume) b.rate = rate;
      if (b.lastTotal >= c.successRateRequestVolume) srHosts.push([m, rate]);
      if (b.lastTotal >= c.failurePercentageRequestVolume) fpHosts.push([m, rate]);
    }
    let result = none;
    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      result = successRateThreshold(srHosts.map((x) => x[1]), c.successRateStdevFactor);
      const type = local ? EjectionType.SuccessRateLocalOrigin : EjectionType.SuccessRate;
      for (const [m, rate] of srHosts) {
        if (rate < result.threshold && !(m.host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK)) {
          this.stats.detected[type].inc();
          this.stats.ejections_success_rate.inc();
          this.stats.ejections_total.inc();
          this.eject(m, type);
        }
      }
    }
    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const type = local ? EjectionType.FailurePercentageLocalOrigin : EjectionType.FailurePercentage;
      for (const [m, rate] of fpHosts) {
        if (100 - rate >= c.failurePercentageThreshold && !(m.host.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK)) {
          this.stats.detected[type].inc();
          this.eject(m, type);
        }
      }
    }
    return result;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const [h, m] of this.monitors) if (h.outlier === m) h.outlier = null;
  }
}
