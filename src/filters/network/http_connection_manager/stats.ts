// http.<stat_prefix>.* instruments (Envoy's HCM statistics), created once per HCM config.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/stats
import type { Counter, Gauge, StatsStore } from '../../../telemetry/stats';

export class HcmStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_active: Gauge;
  readonly downstream_cx_http1_total: Counter;
  readonly downstream_cx_http2_total: Counter;
  readonly downstream_cx_destroy: Counter;
  readonly downstream_cx_protocol_error: Counter;
  readonly downstream_cx_idle_timeout: Counter;
  readonly downstream_cx_drain_close: Counter;
  readonly downstream_cx_upgrades_total: Counter;
  readonly downstream_cx_rx_bytes_total: Counter;
  readonly downstream_cx_tx_bytes_total: Counter;
  readonly downstream_rq_total: Counter;
  readonly downstream_rq_http1_total: Counter;
  readonly downstream_rq_http2_total: Counter;
  readonly downstream_rq_active: Gauge;
  readonly downstream_rq_completed: Counter;
  readonly downstream_rq_rx_reset: Counter;
  readonly downstream_rq_tx_reset: Counter;
  readonly downstream_rq_timeout: Counter;
  readonly downstream_rq_idle_timeout: Counter;
  readonly downstream_rq_header_timeout: Counter;
  readonly rq_direct_response: Counter;
  readonly rq_redirect: Counter;
  readonly no_route: Counter;
  readonly no_cluster: Counter;
  private readonly byClass: Counter[];

  constructor(store: StatsStore, statPrefix: string) {
    const p = `http.${statPrefix}.`;
    const c = (n: string) => store.counter(p + n);
    const g = (n: string) => store.gauge(p + n);
    this.downstream_cx_total = c('downstream_cx_total');
    this.downstream_cx_active = g('downstream_cx_active');
    this.downstream_cx_http1_total = c('downstream_cx_http1_total');
    this.downstream_cx_http2_total = c('downstream_cx_http2_total');
    this.downstream_cx_destroy = c('downstream_cx_destroy');
    this.downstream_cx_protocol_error = c('downstream_cx_protocol_error');
    this.downstream_cx_idle_timeout = c('downstream_cx_idle_timeout');
    this.downstream_cx_drain_close = c('downstream_cx_drain_close');
    this.downstream_cx_upgrades_total = c('downstream_cx_upgrades_total');
    this.downstream_cx_rx_bytes_total = c('downstream_cx_rx_bytes_total');
    this.downstream_cx_tx_bytes_total = c('downstream_cx_tx_bytes_total');
    this.downstream_rq_total = c('downstream_rq_total');
    this.downstream_rq_http1_total = c('downstream_rq_http1_total');
    this.downstream_rq_http2_total = c('downstream_rq_http2_total');
    this.downstream_rq_active = g('downstream_rq_active');
    this.downstream_rq_completed = c('downstream_rq_completed');
    this.downstream_rq_rx_reset = c('downstream_rq_rx_reset');
    this.downstream_rq_tx_reset = c('downstream_rq_tx_reset');
    this.downstream_rq_timeout = c('downstream_rq_timeout');
    this.downstream_rq_idle_timeout = c('downstream_rq_idle_timeout');
    this.downstream_rq_header_timeout = c('downstream_rq_header_timeout');
    this.rq_direct_response = c('rq_direct_response');
    this.rq_redirect = c('rq_redirect');
    this.no_route = c('no_route');
    this.no_cluster = c('no_cluster');
    this.byClass = [1, 1, 2, 3, 4, 5].map((k) => c(`downstream_rq_${k}xx`));
  }

  status(code: number): void {
    const k = this.byClass[(code / 100) | 0];
    if (k !== undefined) k.inc();
  }
}
