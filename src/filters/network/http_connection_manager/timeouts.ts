// Per-stream timeouts — the route timeout, stream_idle_timeout, request_timeout and
// common_http_protocol_options.max_stream_duration — checked by one sweeping timer per
// connection manager instead of a timer per request (the request path only stamps times;
// a timer armed and cleared per request was a measured cost on the HTTP/1.1 path).
// https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts
import type { ActiveStream } from './active_stream';
import type { RouteTable } from '../../../routing/types';
import { LazyInterval } from '../../../util/lazy_interval';
import type { HcmConfig } from './config';

export class StreamTimeouts {
  /**
   * Active streams as an intrusive doubly-linked list (ActiveStream.tPrev / tNext): adding
   * and removing allocates nothing. A Set here was measured to make ~2 MB of young objects
   * survive every scavenge (and the pauses grow with it).
   */
  private head: ActiveStream | null = null;
  private count = 0;
  private readonly requestMs: number;
  private period: number;
  /** The period the route table asks for; a stream with a shorter deadline lowers `period` (need()). */
  private tablePeriod: number;
  private readonly interval: LazyInterval;

  constructor(private readonly cfg: HcmConfig) {
    this.requestMs = cfg.requestTimeoutMs;
    this.period = this.tablePeriod = this.periodFor(cfg.routeTable);
    this.interval = new LazyInterval(this.period, () => this.check());
  }

  /** A new route table (RDS) may bring shorter route timeouts: re-derive the sweep period. */
  setRouteTable(t: RouteTable | null): void {
    this.period = this.tablePeriod = this.periodFor(t);
    this.interval.setPeriod(this.period);
  }

  /**
   * A stream got a deadline known only per request (grpc-timeout, x-envoy-upstream-rq-*-ms,
   * back-off): make sure the sweep runs often enough for it and tracks the stream.
   */
  need(s: ActiveStream, ms: number): void {
    const p = sweepPeriod(ms);
    if (this.period === 0 || p < this.period) {
      this.period = p;
      this.interval.setPeriod(p);
    }
    this.add(s);
  }

  private periodFor(table: RouteTable | null | undefined): number {
    // Routes set their own timeout and may set a (shorter) idle_timeout.
    const routeTimeouts: number[] = [];
    for (const vh of table?.virtualHosts ?? []) {
      for (const r of vh.routes) {
        if (r.action.t !== 'route') continue;
        if (r.action.idleTimeoutMs) routeTimeouts.push(r.action.idleTimeoutMs);
        if (r.action.timeoutMs) routeTimeouts.push(r.action.timeoutMs);
        if (r.action.maxStreamDurationMs) routeTimeouts.push(r.action.maxStreamDurationMs);
        if (r.action.retryPolicy?.perTryTimeoutMs) routeTimeouts.push(r.action.retryPolicy.perTryTimeoutMs);
      }
    }
    const all = [this.cfg.streamIdleTimeoutMs, this.requestMs, this.cfg.maxStreamDurationMs, ...routeTimeouts];
    const shortest = Math.min(...all.filter((x) => x > 0), Infinity);
    return shortest === Infinity ? 0 : sweepPeriod(shortest);
  }

  add(s: ActiveStream): void {
    if (this.period === 0 || s.tLinked) return;
    s.tLinked = true;
    s.tPrev = null;
    s.tNext = this.head;
    if (this.head !== null) this.head.tPrev = s;
    this.head = s;
    this.count++;
    this.interval.ensure();
  }

  delete(s: ActiveStream): void {
    if (!s.tLinked) return;
    s.tLinked = false;
    if (s.tPrev !== null) s.tPrev.tNext = s.tNext;
    else this.head = s.tNext;
    if (s.tNext !== null) s.tNext.tPrev = s.tPrev;
    s.tPrev = s.tNext = null;
    this.count--;
  }

  /** Fires the timeouts that are due; returns whether any stream is tracked. */
  check(): boolean {
    if (this.count === 0) return false;
    const now = Date.now();
    for (let s = this.head; s !== null; ) {
      // A timeout unlinks the stream (finish → delete), so read the next one first.
      const next: ActiveStream | null = s.tNext;
      this.checkOne(s, now);
      s = next;
    }
    return true;
  }

  private checkOne(s: ActiveStream, now: number): void {
    if (s.routeDeadline > 0 && now >= s.routeDeadline) s.onTimeout();
    else if (s.durationMs > 0 && now - s.startTimeMs >= s.durationMs) s.onStreamTimeout('max_stream_duration');
    else if (s.tryDeadline > 0 && now >= s.tryDeadline) s.onPerTryTimeout();
    else if (this.requestMs > 0 && !s.requestComplete && now - s.startTimeMs >= this.requestMs) s.onStreamTimeout('request_timeout');
    else if (s.idleTimeoutMs > 0 && now - s.lastActivityMs >= s.idleTimeoutMs) s.onStreamTimeout('stream_idle_timeout');
  }
}

/**
 * Fire at a quarter of the shortest timeout, between 25 ms and 1 s: the error on when a
 * timeout fires stays under 25% (or 1 s) without a timer per request.
 */
function sweepPeriod(shortest: number): number {
  return Math.min(1000, Math.max(25, Math.floor(shortest / 4)));
}
