// Envoy's circuit breakers (cluster `circuit_breakers.thresholds`): per routing priority
// (DEFAULT, HIGH) a cluster-wide limit on connections, pending requests, active requests and
// active retries (or a retry budget), with Envoy's `*_open` gauges and, with
// `track_remaining`, the `remaining_*` gauges under cluster.<name>.circuit_breakers.<priority>.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/circuit_breaking
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto
import { ConfigIssues, join } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';
import { onlyFields, readBool, readEnum, readList, readMessage, readNumber } from '../xds/resources/fields';
import type { Gauge, StatsStore } from '../telemetry/stats';

export type RoutingPriority = 'DEFAULT' | 'HIGH';

export interface ThresholdsConfig {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** retry_budget: when set, max_retries is not used (Envoy). */
  retryBudget?: { budgetPercent: number; minRetryConcurrency: number };
  trackRemaining: boolean;
}

export interface CircuitBreakersConfig {
  default: ThresholdsConfig;
  high: ThresholdsConfig;
}

/** Envoy's defaults: 1024 connections, pending and requests, 3 retries. */
export function defaultThresholds(): ThresholdsConfig {
  return { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, trackRemaining: false };
}

const THRESHOLD_FIELDS = ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'retry_budget', 'track_remaining'];

/** cluster.circuit_breakers; "If multiple Thresholds are defined with the same RoutingPriority, the first one in the list is used." */
export function decodeCircuitBreakers(canon: Canon | undefined, path: string, issues: ConfigIssues): CircuitBreakersConfig {
  const out: CircuitBreakersConfig = { default: defaultThresholds(), high: defaultThresholds() };
  if (canon === undefined) return out;
  // per_host_thresholds (per-host max_connections) is not implemented.
  onlyFields(canon, path, issues, ['thresholds']);
  const seen = new Set<RoutingPriority>();
  readList(canon, 'thresholds').forEach((t: Canon, i) => {
    const p = join(join(path, 'thresholds'), i);
    onlyFields(t, p, issues, THRESHOLD_FIELDS);
    const prio = readEnum<RoutingPriority>(t, 'priority', p, issues, 'DEFAULT', ['DEFAULT', 'HIGH']);
    const d = defaultThresholds();
    const th: ThresholdsConfig = {
      maxConnections: readNumber(t, 'max_connections', d.maxConnections),
      maxPendingRequests: readNumber(t, 'max_pending_requests', d.maxPendingRequests),
      maxRequests: readNumber(t, 'max_requests', d.maxRequests),
      maxRetries: readNumber(t, 'max_retries', d.maxRetries),
      trackRemaining: readBool(t, 'track_remaining', false),
    };
    const rb = readMessage(t, 'retry_budget');
    if (rb !== undefined) {
      const rp = join(p, 'retry_budget');
      onlyFields(rb, rp, issues, ['budget_percent', 'min_retry_concurrency']);
      // budget_percent is an envoy.type.v3.Percent ({value: 0..100}); defaults 20% and 3.
      const pct = readMessage(rb, 'budget_percent');
      onlyFields(pct, join(rp, 'budget_percent'), issues, ['value']);
      const v = readNumber(pct, 'value', 20);
      if (!(v >= 0 && v <= 100)) issues.add(join(join(rp, 'budget_percent'), 'value'), 'must be in [0, 100]');
      th.retryBudget = { budgetPercent: v, minRetryConcurrency: readNumber(rb, 'min_retry_concurrency', 3) };
    }
    if (seen.has(prio)) return;
    seen.add(prio);
    if (prio === 'HIGH') out.high = th;
    else out.default = th;
  });
  return out;
}

/** One limited resource: a count, its limit, the `*_open` gauge and (track_remaining) the `remaining_*` gauge. */
export class Resource {
  count = 0;
  constructor(
    private readonly max: () => number,
    private readonly open: Gauge,
    private readonly remaining: Gauge | null,
  ) {
    this.update();
  }
  get limit(): number {
    return this.max();
  }
  canCreate(): boolean {
    return this.count < this.max();
  }
  inc(): void {
    this.count++;
    this.update();
  }
  dec(): void {
    this.count--;
    this.update();
  }
  private update(): void {
    const max = this.max();
    this.open.set(this.count >= max ? 1 : 0);
    if (this.remaining !== null) this.remaining.set(Math.max(0, max - this.count));
  }
}

/** The resources of one priority of one cluster (Envoy's ResourceManager). */
export class PriorityResources {
  readonly connections: Resource;
  readonly pendingRequests: Resource;
  readonly requests: Resource;
  readonly retries: Resource;

  constructor(readonly config: ThresholdsConfig, store: StatsStore, prefix: string) {
    const g = (n: string) => store.gauge(prefix + n);
    const r = (n: string) => (config.trackRemaining ? g(n) : null);
    this.connections = new Resource(() => config.maxConnections, g('cx_open'), r('remaining_cx'));
    this.pendingRequests = new Resource(() => config.maxPendingRequests, g('rq_pending_open'), r('remaining_pending'));
    this.requests = new Resource(() => config.maxRequests, g('rq_open'), r('remaining_rq'));
    const budget = config.retryBudget;
    // A retry budget caps active retries at budget_percent of active plus pending requests,
    // never below min_retry_concurrency.
    const maxRetries = budget === undefined
      ? () => config.maxRetries
      : () => Math.max(budget.minRetryConcurrency, Math.floor((budget.budgetPercent / 100) * (this.requests.count + this.pendingRequests.count)));
    this.retries = new Resource(maxRetries, g('rq_retry_open'), r('remaining_retries'));
  }
}

export class ClusterResources {
  readonly default: PriorityResources;
  readonly high: PriorityResources;
  constructor(config: CircuitBreakersConfig, store: StatsStore, clusterName: string) {
    const p = `cluster.${clusterName}.circuit_breakers.`;
    this.default = new PriorityResources(config.default, store, p + 'default.');
    this.high = new PriorityResources(config.high, store, p + 'high.');
  }
  of(priority: RoutingPriority): PriorityResources {
    return priority === 'HIGH' ? this.high : this.default;
  }
}
