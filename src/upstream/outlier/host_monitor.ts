// Per-host counters of outlier detection: consecutive 5xx / gateway failures / local-origin
// failures, and the success-rate buckets the detector reads at each interval. The router and
// tcp_proxy report each upstream result here (a field increment or two: this is on the
// request path). Envoy's DetectorHostMonitorImpl:
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier
import type { Host } from '../host';

/** Results other than an HTTP status (Envoy's Outlier::Result). */
export const enum OutlierResult {
  /** Connected, and a higher-level protocol (HTTP) follows: not itself a success or failure. */
  LocalOriginConnectSuccess = 0,
  /** Connected, and that is all there is to it (tcp_proxy): a success. */
  LocalOriginConnectSuccessFinal = 1,
  LocalOriginConnectFailed = 2,
  LocalOriginTimeout = 3,
  ExtOriginRequestFailed = 4,
  ExtOriginRequestSuccess = 5,
}

export const enum EjectionType {
  Consecutive5xx = 0,
  ConsecutiveGatewayFailure = 1,
  ConsecutiveLocalOriginFailure = 2,
  SuccessRate = 3,
  SuccessRateLocalOrigin = 4,
  FailurePercentage = 5,
  FailurePercentageLocalOrigin = 6,
}

/** What the monitor tells its detector. */
export interface MonitorOwner {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  readonly split: boolean;
  onConsecutive(host: Host, type: EjectionType): void;
}

/** Two buckets: the interval being counted, and the last complete one (what the detector reads). */
export class SuccessRateBuckets {
  total = 0;
  success = 0;
  lastTotal = 0;
  lastSuccess = 0;
  /** The host's success rate (percent) from the last sweep, -1 when it had too few requests; shown in /clusters. */
  rate = -1;

  swap(): void {
    this.lastTotal = this.total;
    this.lastSuccess = this.success;
    this.total = 0;
    this.success = 0;
  }
}

/** Where the router and tcp_proxy report a host's results (report.ts): a HostMonitor, or in a --concurrency worker a forwarder to the primary's. */
export interface OutlierSink {
  putHttpResponseCode(code: number): void;
  putResult(r: OutlierResult, code?: number): void;
  /** The success rates of the last sweep, where the detector runs (shown by /clusters). */
  readonly external?: { readonly rate: number };
  readonly localOrigin?: { readonly rate: number };
}

export class HostMonitor implements OutlierSink {
  consecutive5xxCount = 0;
  consecutiveGatewayCount = 0;
  consecutiveLocalOriginCount = 0;
  readonly external = new SuccessRateBuckets();
  readonly localOrigin = new SuccessRateBuckets();
  numEjections = 0;
  /** The ejection-time multiplier: grows with each ejection, shrinks while the host behaves. */
  backoff = 0;
  lastEjectionMs = -1;
  lastUnejectionMs = -1;
  jitterMs = 0;

  constructor(
    readonly host: Host,
    private readonly owner: MonitorOwner,
  ) {}

  /** An HTTP response status from the host (or a local-origin result mapped to one). */
  putHttpResponseCode(code: number): void {
    this.external.total++;
    if (code >= 500 && code < 600) {
      const o = this.owner;
      if (code === 502 || code === 503 || code === 504) {
        if (++this.consecutiveGatewayCount === o.consecutiveGatewayFailure) o.onConsecutive(this.host, EjectionType.ConsecutiveGatewayFailure);
      } else this.consecutiveGatewayCount = 0;
      if (++this.consecutive5xxCount === o.consecutive5xx) o.onConsecutive(this.host, EjectionType.Consecutive5xx);
    } else {
      this.external.success++;
      this.consecutive5xxCount = 0;
      this.consecutiveGatewayCount = 0;
    }
  }

  /**
   * A result that is not a plain status. Without split_external_local_origin_errors,
   * local-origin results count as the status they stand for (connect failure 503,
   * timeout 504, a final connect success 200); with it, they feed the local-origin counters.
   */
  putResult(r: OutlierResult, code = 0): void {
    if (!this.owner.split) {
      if (code > 0) return this.putHttpResponseCode(code);
      switch (r) {
        case OutlierResult.ExtOriginRequestSuccess:
        case OutlierResult.LocalOriginConnectSuccessFinal:
          return this.putHttpResponseCode(200);
        case OutlierResult.LocalOriginTimeout:
          return this.putHttpResponseCode(504);
        case OutlierResult.LocalOriginConnectFailed:
          return this.putHttpResponseCode(503);
        case OutlierResult.ExtOriginRequestFailed:
          return this.putHttpResponseCode(500);
        default:
          return;
      }
    }
    switch (r) {
      case OutlierResult.LocalOriginConnectSuccess:
      case OutlierResult.LocalOriginConnectSuccessFinal:
        this.localOrigin.total++;
        this.localOrigin.success++;
        this.consecutiveLocalOriginCount = 0;
        return;
      case OutlierResult.LocalOriginTimeout:
      case OutlierResult.LocalOriginConnectFailed:
        this.localOrigin.total++;
        if (++this.consecutiveLocalOriginCount === this.owner.consecutiveLocalOriginFailure) {
          this.owner.onConsecutive(this.host, EjectionType.ConsecutiveLocalOriginFailure);
        }
        return;
      case OutlierResult.ExtOriginRequestFailed:
        return this.putHttpResponseCode(503);
      case OutlierResult.ExtOriginRequestSuccess:
        return this.putHttpResponseCode(200);
    }
  }

  resetConsecutive(): void {
    this.consecutive5xxCount = 0;
    this.consecutiveGatewayCount = 0;
    this.consecutiveLocalOriginCount = 0;
  }
}
