// Per-stream timeouts of the connection manager — stream_idle_timeout, request_timeout and
// common_http_protocol_options.max_stream_duration — checked by one sweeping timer per
// connection manager instead of a timer per request (the request path only stamps times).
// https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts
import type { ActiveStream } from './active_stream';
import type { HcmConfig } from './config';

export class StreamTimeouts {
  private readonly streams = new Set<ActiveStream>();
  private timer: NodeJS.Timeout | null = null;
  private readonly requestMs: number;
  private readonly durationMs: number;
  private readonly period: number;

  constructor(cfg: HcmConfig) {
    this.requestMs = cfg.requestTimeoutMs;
    this.durationMs = cfg.maxStreamDurationMs;
    // Routes may set their own (shorter) idle_timeout.
    const routeIdle: number[] = [];
    for (const vh of cfg.routeTable?.virtualHosts ?? []) {
      for (const r of vh.routes) if (r.action.t === 'route' && r.action.idleTimeoutMs) routeIdle.push(r.action.idleTimeoutMs);
    }
    const shortest = Math.min(...[cfg.streamIdleTimeoutMs, this.requestMs, this.durationMs, ...routeIdle].filter((x) => x > 0), Infinity);
    // Fire at a quarter of the shortest timeout, between 25 ms and 1 s: the error on when a
    // timeout fires stays under 25% (or 1 s) without a timer per request.
    this.period = shortest === Infinity ? 0 : Math.min(1000, Math.max(25, Math.floor(shortest / 4)));
  }

  add(s: ActiveStream): void {
    if (this.period === 0) return;
    this.streams.add(s);
    if (this.timer === null) {
      this.timer = setInterval(sweep, this.period, this);
      this.timer.unref();
    }
  }

  delete(s: ActiveStream): void {
    if (this.period === 0) return;
    this.streams.delete(s);
    if (this.streams.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  check(): void {
    const now = Date.now();
    for (const s of this.streams) {
      if (this.durationMs > 0 && now - s.startTimeMs >= this.durationMs) s.onStreamTimeout('max_stream_duration');
      else if (this.requestMs > 0 && !s.requestComplete && now - s.startTimeMs >= this.requestMs) s.onStreamTimeout('request_timeout');
      else if (s.idleTimeoutMs > 0 && now - s.lastActivityMs >= s.idleTimeoutMs) s.onStreamTimeout('stream_idle_timeout');
    }
  }
}

function sweep(t: StreamTimeouts): void {
  t.check();
}
