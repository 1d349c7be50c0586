// A cluster's active health checker: one session per host, each a timer that runs a probe
// (HTTP, TCP or gRPC), counts the result against the thresholds (state.ts) and schedules
// the next check. Health changes set or clear HealthFlag.FAILED_ACTIVE_HC on the host and
// call back into the cluster, which rebuilds its picker. Timers are unref'd and all stop
// with stop(), when the cluster is removed or replaced.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking
// https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/cluster_stats#health-check-statistics
import { log } from '../../log';
import type { Counter, Gauge, StatsStore } from '../../telemetry/stats';
import { HealthFlag, type Host } from '../host';
import type { HealthCheckConfig } from './config';
import { GrpcProbe } from './grpc_probe';
import { Http1Probe, Http2Probe } from './http_probe';
import type { Probe, ProbeResult, ProbeTarget } from './probe';
import { HealthState, initialDelayMs, nextIntervalMs, Transition } from './state';
import { TcpProbe } from './tcp_probe';

export class HealthCheckStats {
  readonly attempt: Counter;
  readonly success: Counter;
  readonly failure: Counter;
  readonly passive_failure: Counter;
  readonly network_failure: Counter;
  readonly verify_cluster: Counter;
  readonly healthy: Gauge;
  readonly degraded: Gauge;
  constructor(store: StatsStore, cluster: string) {
    const p = `cluster.${cluster}.health_check.`;
    this.attempt = store.counter(p + 'attempt');
    this.success = store.counter(p + 'success');
    this.failure = store.counter(p + 'failure');
    this.passive_failure = store.counter(p + 'passive_failure');
    this.network_failure = store.counter(p + 'network_failure');
    this.verify_cluster = store.counter(p + 'verify_cluster');
    this.healthy = store.gauge(p + 'healthy');
    this.degraded = store.gauge(p + 'degraded');
  }
}

export interface HealthCheckerOwner {
  readonly name: string;
  /** Whether the cluster has carried traffic yet (no_traffic_interval applies until it has). */
  hadTraffic(): boolean;
  /** A check changed a host's health (or ended its pending state): rebuild the picker. */
  onHealthChanged(host: Host, t: Transition): void;
  /** A check passed (outlier detection may un-eject the host). */
  onCheckPassed?(host: Host): void;
}

class Session {
  readonly state: HealthState;
  private timer: NodeJS.Timeout | null = null;
  private timeout: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly checker: HealthChecker,
    readonly host: Host,
    private readonly probe: Probe,
  ) {
    this.state = new HealthState(checker.cfg, host);
  }

  start(): void {
    this.arm(initialDelayMs(this.checker.cfg));
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    if (this.stopped) return;
    const id = ++this.inFlight;
    this.checker.stats.attempt.inc();
    this.timeout = setTimeout(() => this.onTimeout(id), this.checker.cfg.timeoutMs);
    this.timeout.unref();
    this.probe.check((r) => {
      if (id === this.inFlight && !this.stopped) this.onResult(r);
    });
  }

  private onTimeout(id: number): void {
    this.timeout = null;
    if (id !== this.inFlight || this.stopped) return;
    this.inFlight++; // a late answer to the timed-out check is ignored
    this.probe.abort();
    this.onResult({ ok: false, type: 'network', retriable: true, detail: 'timeout' });
  }

  private onResult(r: ProbeResult): void {
    if (this.timeout !== null) clearTimeout(this.timeout);
    this.timeout = null;
    const c = this.checker;
    let t: Transition;
    if (r.ok) {
      c.stats.success.inc();
      t = this.state.onSuccess(r.degraded);
      if (c.cfg.alwaysLogHealthCheckSuccess) log.info('health check passed', { cluster: c.owner.name, host: this.host.key });
    } else {
      c.stats.failure.inc();
      if (r.type === 'network') c.stats.network_failure.inc();
      t = this.state.onFailure(r.type, r.retriable);
      if (c.cfg.alwaysLogHealthCheckFailures || t === Transition.Changed) {
        log.warn('health check failed', { cluster: c.owner.name, host: this.host.key, reason: r.detail });
      }
    }
    if (t === Transition.Changed) {
      if (r.ok) log.info('host healthy (active health check)', { cluster: c.owner.name, host: this.host.key });
      c.owner.onHealthChanged(this.host, t);
    }
    if (r.ok) c.owner.onCheckPassed?.(this.host);
    c.firstDone(this);
    this.arm(nextIntervalMs(c.cfg, r.ok, t, c.owner.hadTraffic()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.timeout !== null) clearTimeout(this.timeout);
    this.timer = this.timeout = null;
    this.probe.close();
  }
}

export class HealthChecker {
  readonly stats: HealthCheckStats;
  private readonly sessions = new Map<Host, Session>();
  /** Sessions whose first check has not completed (the cluster's initial round). */
  private readonly pendingFirst = new Set<Session>();
  private waiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    readonly cfg: HealthCheckConfig,
    readonly owner: HealthCheckerOwner,
    store: StatsStore,
  ) {
    this.stats = new HealthCheckStats(store, owner.name);
  }

  /** Where checks for `host` go: its health_check_config port and hostname, else its own. */
  private target(host: Host): ProbeTarget {
    const hc = host.healthCheckConfig;
    const check = this.cfg.check;
    const configured = check.t === 'http' ? check.host : check.t === 'grpc' ? check.authority : '';
    const authority = hc?.hostname || configured || this.owner.name;
    return { ip: host.ip, port: hc?.portValue || host.port, authority, hostKey: host.key };
  }

  private probe(host: Host): Probe {
    const target = () => this.target(host);
    const c = this.cfg.check;
    const reuse = this.cfg.reuseConnection;
    if (c.t === 'tcp') return new TcpProbe(c, target, reuse);
    if (c.t === 'grpc') return new GrpcProbe(c, target, reuse);
    return c.codec === 'http2' ? new Http2Probe(c, target, reuse) : new Http1Probe(c, target, reuse);
  }

  /** Starts checking hosts that are new to the checker and stops those no longer listed. */
  setHosts(hosts: readonly Host[]): void {
    if (this.stopped) return;
    const keep = new Set(hosts);
    for (const [h, s] of this.sessions) {
      if (keep.has(h)) continue;
      s.stop();
      this.sessions.delete(h);
      this.firstDone(s);
    }
    for (const h of hosts) {
      if (this.sessions.has(h) || h.healthCheckConfig?.disableActiveHealthCheck) continue;
      const s = new Session(this, h, this.probe(h));
      this.sessions.set(h, s);
      this.pendingFirst.add(s);
      s.start();
    }
    this.updateGauges();
  }

  /** Resolves once every host known so far has had its first check (Envoy's cluster initialization waits for this). */
  initialized(): Promise<void> {
    if (this.pendingFirst.size === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  firstDone(s: Session): void {
    this.updateGauges();
    if (!this.pendingFirst.delete(s) || this.pendingFirst.size > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private updateGauges(): void {
    let healthy = 0;
    let degraded = 0;
    for (const h of this.sessions.keys()) {
      if ((h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) === 0) healthy++;
      if (h.healthFlags & HealthFlag.DEGRADED_ACTIVE_HC) degraded++;
    }
    this.stats.healthy.set(healthy);
    this.stats.degraded.set(degraded);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
    this.pendingFirst.clear();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
