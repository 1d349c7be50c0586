// The requests of one connection pool (h1_pool.ts, h2_pool.ts) that wait, FIFO, for a
// connection or a free HTTP/2 stream slot, with Envoy's pending-request stats: _total counts
// every request that had to wait, _overflow those refused because max_pending_requests were
// already waiting, and the _active gauge follows the queue's length. Each change of the queue
// updates the gauge in the same step, so the pools cannot forget it. The limit is the
// cluster-wide circuit breaker max_pending_requests of the request's routing priority.
import type { ResetReason, UpstreamResponseSink } from '../http/stream';
import type { ClusterResources, Resource } from './circuit_breakers';
import type { ClusterStats } from './cluster_stats';
import type { PoolClient, PoolRequest } from './pool';

/** A waiting request; the router holds it as its PoolRequest to cancel the wait. */
export class Waiter implements PoolRequest {
  cancelled = false;
  constructor(
    private readonly queue: PendingQueue,
    readonly sink: UpstreamResponseSink,
    readonly client: PoolClient,
    /** The circuit-breaker resource this wait holds (max_pending_requests of its priority). */
    readonly resource: Resource,
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
    /** The cluster's circuit breakers (read at each request: max_pending_requests). */
    private readonly resources: ClusterResources,
  ) {}

  get length(): number {
    return this.waiters.length;
  }

  /**
   * Queues a request, or refuses it with 'overflow' when max_pending_requests are already
   * waiting (then null: the client has had its onPoolFailure).
   */
  add(sink: UpstreamResponseSink, client: PoolClient): Waiter | null {
    const r = this.resources.of(client.priority ?? 'DEFAULT').pendingRequests;
    if (!r.canCreate()) {
      this.stats.upstream_rq_pending_overflow.inc();
      client.onPoolFailure('overflow', 'pending requests overflow');
      return null;
    }
    r.inc();
    const w = new Waiter(this, sink, client, r);
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
      w.resource.dec();
    }
  }

  /** The longest-waiting request, taken off the queue; undefined when none waits. */
  shift(): Waiter | undefined {
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.stats.upstream_rq_pending_active.dec();
      w.resource.dec();
    }
    return w;
  }

  /** Empties the queue and fails every request, oldest first. */
  failAll(reason: ResetReason, detail: string): void {
    for (const w of this.waiters.splice(0)) {
      this.stats.upstream_rq_pending_active.dec();
      w.resource.dec();
      w.client.onPoolFailure(reason, detail);
    }
  }
}
