// The requests of one connection pool (h1_pool.ts, h2_pool.ts) that wait, FIFO, for a
// connection or a free HTTP/2 stream slot, with Envoy's pending-request stats: _total counts
// every request that had to wait, _overflow those refused because max_pending_requests were
// already waiting, and the _active gauge follows the queue's length. Each change of the queue
// updates the gauge in the same step, so the pools cannot forget it.
import type { ResetReason, UpstreamResponseSink } from '../http/stream';
import type { ClusterStats } from './cluster_stats';
import type { PoolClient, PoolRequest } from './pool';

/** A waiting request; the router holds it as its PoolRequest to cancel the wait. */
export class Waiter implements PoolRequest {
  cancelled = false;
  constructor(
    private readonly queue: PendingQueue,
    readonly sink: UpstreamResponseSink,
    readonly client: PoolClient,
  ) {}
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.queue.remove(this);
  }
}

export class PendingQueue {
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly stats: ClusterStats,
    /** The pool's settings, read at each request as the pools did (max_pending_requests). */
    private readonly settings: { readonly maxPending: number },
  ) {}

  get length(): number {
    return this.waiters.length;
  }

  /**
   * Queues a request, or refuses it with 'overflow' when max_pending_requests are already
   * waiting (then null: the client has had its onPoolFailure).
   */
  add(sink: UpstreamResponseSink, client: PoolClient): Waiter | null {
    if (this.waiters.length >= this.settings.maxPending) {
      this.stats.upstream_rq_pending_overflow.inc();
      client.onPoolFailure('overflow', 'pending requests overflow');
      return null;
    }
    const w = new Waiter(this, sink, client);
    this.waiters.push(w);
    this.stats.upstream_rq_pending_total.inc();
    this.stats.upstream_rq_pending_active.inc();
    return w;
  }

  /** Withdraws a cancelled request; one already handed on or failed is not counted again. */
  remove(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i !== -1) {
      this.waiters.splice(i, 1);
      this.stats.upstream_rq_pending_active.dec();
    }
  }

  /** The longest-waiting request, taken off the queue; undefined when none waits. */
  shift(): Waiter | undefined {
    const w = this.waiters.shift();
    if (w !== undefined) this.stats.upstream_rq_pending_active.dec();
    return w;
  }

  /** Empties the queue and fails every request, oldest first. */
  failAll(reason: ResetReason, detail: string): void {
    for (const w of this.waiters.splice(0)) {
      this.stats.upstream_rq_pending_active.dec();
      w.client.onPoolFailure(reason, detail);
    }
  }
}
