// Per-cluster instruments with Envoy's names (cluster.<name>.*), created once when the
// cluster is built and held by reference on the request path.
import { ByteCounters, type ByteSource, type Counter, type Gauge, type StatsStore } from '../telemetry/stats';

export class ClusterStats {
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_cx_http1_total: Counter;
  readonly upstream_cx_http2_total: Counter;
  readonly upstream_cx_rx_bytes_total: Counter;
  readonly upstream_cx_tx_bytes_total: Counter;
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_pending_total: Counter;
  readonly upstream_rq_pending_active: Gauge;
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_rq_rx_reset: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_rq_completed: Counter;
  readonly upstream_rq_1xx: Counter;
  readonly upstream_rq_2xx: Counter;
  readonly upstream_rq_3xx: Counter;
  readonly upstream_rq_4xx: Counter;
  readonly upstream_rq_5xx: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly upstream_cx_overflow: Counter;
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  readonly upstream_rq_retry_limit_exceeded: Counter;
  readonly upstream_rq_retry_backoff_exponential: Counter;
  readonly upstream_rq_retry_backoff_ratelimited: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly retry_or_shadow_abandoned: Counter;
  readonly upstream_rq_max_duration_reached: Counter;
  readonly lb_healthy_panic: Counter;
  readonly membership_total: Gauge;
  readonly membership_healthy: Gauge;
  readonly membership_change: Counter;
  /** Host-list updates that changed nothing the load balancer depends on (no rebuild), Envoy's update_no_rebuild. */
  readonly update_no_rebuild: Counter;
  private readonly byClass: Counter[];

  /** The open connections whose bytes the counters follow. */
  private readonly live = new Map<ByteSource, ByteCounters>();

  constructor(
    private readonly root: StatsStore,
    name: string,
  ) {
    // One scope per cluster (telemetry/stats.ts): a replaced cluster gets the same instruments.
    const store = root.scope(`cluster.${name}.`);
    const p = ''; // names below are suffixes within the scope
    this.upstream_cx_total = store.counter(p + 'upstream_cx_total');
    this.upstream_cx_active = store.gauge(p + 'upstream_cx_active');
    this.upstream_cx_connect_fail = store.counter(p + 'upstream_cx_connect_fail');
    this.upstream_cx_connect_timeout = store.counter(p + 'upstream_cx_connect_timeout');
    this.upstream_cx_destroy = store.counter(p + 'upstream_cx_destroy');
    this.upstream_cx_http1_total = store.counter(p + 'upstream_cx_http1_total');
    this.upstream_cx_http2_total = store.counter(p + 'upstream_cx_http2_total');
    this.upstream_cx_rx_bytes_total = store.counter(p + 'upstream_cx_rx_bytes_total');
    this.upstream_cx_tx_bytes_total = store.counter(p + 'upstream_cx_tx_bytes_total');
    this.upstream_rq_total = store.counter(p + 'upstream_rq_total');
    this.upstream_rq_active = store.gauge(p + 'upstream_rq_active');
    this.upstream_rq_pending_total = store.counter(p + 'upstream_rq_pending_total');
    this.upstream_rq_pending_active = store.gauge(p + 'upstream_rq_pending_active');
    this.upstream_rq_pending_overflow = store.counter(p + 'upstream_rq_pending_overflow');
    this.upstream_rq_timeout = store.counter(p + 'upstream_rq_timeout');
    this.upstream_rq_rx_reset = store.counter(p + 'upstream_rq_rx_reset');
    this.upstream_rq_tx_reset = store.counter(p + 'upstream_rq_tx_reset');
    this.upstream_rq_completed = store.counter(p + 'upstream_rq_completed');
    this.upstream_rq_1xx = store.counter(p + 'upstream_rq_1xx');
    this.upstream_rq_2xx = store.counter(p + 'upstream_rq_2xx');
    this.upstream_rq_3xx = store.counter(p + 'upstream_rq_3xx');
    this.upstream_rq_4xx = store.counter(p + 'upstream_rq_4xx');
    this.upstream_rq_5xx = store.counter(p + 'upstream_rq_5xx');
    this.upstream_cx_none_healthy = store.counter(p + 'upstream_cx_none_healthy');
    this.upstream_cx_overflow = store.counter(p + 'upstream_cx_overflow');
    this.upstream_rq_retry = store.counter(p + 'upstream_rq_retry');
    this.upstream_rq_retry_success = store.counter(p + 'upstream_rq_retry_success');
    this.upstream_rq_retry_overflow = store.counter(p + 'upstream_rq_retry_overflow');
    this.upstream_rq_retry_limit_exceeded = store.counter(p + 'upstream_rq_retry_limit_exceeded');
    this.upstream_rq_retry_backoff_exponential = store.counter(p + 'upstream_rq_retry_backoff_exponential');
    this.upstream_rq_retry_backoff_ratelimited = store.counter(p + 'upstream_rq_retry_backoff_ratelimited');
    this.upstream_rq_per_try_timeout = store.counter(p + 'upstream_rq_per_try_timeout');
    this.retry_or_shadow_abandoned = store.counter(p + 'retry_or_shadow_abandoned');
    this.upstream_rq_max_duration_reached = store.counter(p + 'upstream_rq_max_duration_reached');
    this.lb_healthy_panic = store.counter(p + 'lb_healthy_panic');
    this.membership_total = store.gauge(p + 'membership_total');
    this.membership_healthy = store.gauge(p + 'membership_healthy');
    this.membership_change = store.counter(p + 'membership_change');
    this.update_no_rebuild = store.counter(p + 'update_no_rebuild');
    this.byClass = [this.upstream_rq_1xx, this.upstream_rq_1xx, this.upstream_rq_2xx, this.upstream_rq_3xx, this.upstream_rq_4xx, this.upstream_rq_5xx];
  }

  /** Counts a response status into upstream_rq_Nxx. */
  status(code: number): void {
    const c = this.byClass[(code / 100) | 0];
    if (c !== undefined) c.inc();
  }

  /** A pool opened a connection: upstream_cx_rx/tx_bytes_total follow its bytes from now on. */
  openBytes(src: ByteSource): void {
    const l = new ByteCounters(src, this.upstream_cx_rx_bytes_total, this.upstream_cx_tx_bytes_total);
    this.live.set(src, l);
    this.root.addCollector(l);
  }

  /** The connection closed: its last bytes are counted and it is no longer followed. */
  closeBytes(src: ByteSource): void {
    const l = this.live.get(src);
    if (l === undefined) return;
    this.live.delete(src);
    this.root.removeCollector(l);
  }
}
