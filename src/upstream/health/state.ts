// One host's active health-check state: the threshold counting and the choice of the next
// interval, as Envoy's HealthCheckerImplBase::ActiveHealthCheckSession does it. Pure (no
// timers, no sockets) so the state machine is unit-tested on its own.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/health_check.proto
import { HealthFlag, type Host } from '../host';
import type { HealthCheckConfig } from './config';

/** What one check result did to the host (Envoy's HealthTransition). */
export const enum Transition {
  Unchanged = 0,
  /** The host's health changed: the picker must be rebuilt. */
  Changed = 1,
  /** The result counts towards a threshold that is not reached yet. */
  ChangePending = 2,
}

/**
 * ACTIVE: the host answered, and the answer is a failure (wrong status, NOT_SERVING);
 * NETWORK: no usable answer (connect failure, reset, timeout).
 */
export type FailureType = 'active' | 'network';

export class HealthState {
  numHealthy = 0;
  numUnhealthy = 0;
  /** The session has not completed a check yet: a first success marks the host healthy at once. */
  firstCheck = true;

  constructor(
    private readonly cfg: HealthCheckConfig,
    readonly host: Host,
  ) {}

  /** A passing check (degraded when the host said so, e.g. x-envoy-degraded). */
  onSuccess(degraded: boolean): Transition {
    const h = this.host;
    this.numUnhealthy = 0;
    let t = Transition.Unchanged;
    if (h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) {
      // "during startup, only a single successful health check is required to mark a host healthy"
      if (this.firstCheck || ++this.numHealthy === this.cfg.healthyThreshold) {
        h.healthFlags &= ~HealthFlag.FAILED_ACTIVE_HC;
        this.numHealthy = 0;
        t = Transition.Changed;
      } else t = Transition.ChangePending;
    }
    t = this.clearPending(t);
    if (degraded !== ((h.healthFlags & HealthFlag.DEGRADED_ACTIVE_HC) !== 0)) {
      if (degraded) h.healthFlags |= HealthFlag.DEGRADED_ACTIVE_HC;
      else h.healthFlags &= ~HealthFlag.DEGRADED_ACTIVE_HC;
      // A change in degraded state is a change in its own right, even mid-way to healthy.
      t = Transition.Changed;
    }
    this.firstCheck = false;
    return t;
  }

  /**
   * A failing check. A non-retriable ACTIVE failure (an HTTP status outside
   * expected_statuses and retriable_statuses, a gRPC NOT_SERVING) fails the host at once;
   * network failures and retriable ones count towards unhealthy_threshold.
   */
  onFailure(type: FailureType, retriable: boolean): Transition {
    const h = this.host;
    this.numHealthy = 0;
    let t = Transition.Unchanged;
    if ((h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) === 0) {
      if ((!retriable && type !== 'network') || ++this.numUnhealthy === this.cfg.unhealthyThreshold) {
        h.healthFlags |= HealthFlag.FAILED_ACTIVE_HC;
        this.numUnhealthy = 0;
        t = Transition.Changed;
      } else t = Transition.ChangePending;
    }
    t = this.clearPending(t);
    this.firstCheck = false;
    return t;
  }

  /** The first result, pass or fail, ends PENDING_ACTIVE_HC (a change the picker must see). */
  private clearPending(t: Transition): Transition {
    if ((this.host.healthFlags & HealthFlag.PENDING_ACTIVE_HC) === 0) return t;
    this.host.healthFlags &= ~HealthFlag.PENDING_ACTIVE_HC;
    return Transition.Changed;
  }
}

/**
 * The wait before the next check (Envoy's HealthCheckerImplBase::interval): until the
 * cluster has carried traffic, no_traffic_interval (no_traffic_healthy_interval after a
 * pass that settled the host healthy); then, after a pass, healthy_edge_interval while a
 * transition is pending, else interval; after a failure, unhealthy_edge_interval while a
 * transition is pending, else unhealthy_interval. Jitter is added on top: a random part of
 * interval_jitter_percent of the base, and a random part of interval_jitter.
 */
export function nextIntervalMs(cfg: HealthCheckConfig, passed: boolean, t: Transition, hadTraffic: boolean, random: () => number = Math.random): number {
  let base: number;
  if (!hadTraffic) {
    base = passed && t !== Transition.ChangePending ? cfg.noTrafficHealthyIntervalMs : cfg.noTrafficIntervalMs;
  } else if (passed) {
    base = t === Transition.ChangePending ? cfg.healthyEdgeIntervalMs : cfg.intervalMs;
  } else {
    base = t === Transition.ChangePending ? cfg.unhealthyEdgeIntervalMs : cfg.unhealthyIntervalMs;
  }
  let ms = base;
  const pct = Math.floor((cfg.intervalJitterPercent * base) / 100);
  if (pct > 0) ms += Math.floor(random() * pct);
  if (cfg.intervalJitterMs > 0) ms += Math.floor(random() * cfg.intervalJitterMs);
  // Never 0: a zero interval would spin.
  return Math.max(1, ms);
}

/** The delay before a new host's first check: a random part of initial_jitter (0 = at once). */
export function initialDelayMs(cfg: HealthCheckConfig, random: () => number = Math.random): number {
  return cfg.initialJitterMs > 0 ? Math.floor(random() * cfg.initialJitterMs) : 0;
}
