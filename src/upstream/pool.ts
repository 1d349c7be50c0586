// The contract between the router (or anything else that needs an upstream stream)
// and a connection pool, for HTTP/1.1 and HTTP/2 alike (Envoy's ConnectionPool::Instance).
import type { ResetReason, UpstreamResponseSink, UpstreamStream } from '../http/stream';
import type { RoutingPriority } from './circuit_breakers';

/** Implemented by the requester; objects, not closures, so the hot path allocates less. */
export interface PoolClient {
  /** The stream is ready to take sendHeaders(). */
  onPoolReady(stream: UpstreamStream, hostKey: string): void;
  onPoolFailure(reason: ResetReason, detail: string): void;
  /** The route's priority: whose circuit breakers (max_pending_requests) apply; DEFAULT when absent. */
  readonly priority?: RoutingPriority;
}

export interface PoolRequest {
  /** Withdraw a request that is still waiting for a connection. */
  cancel(): void;
}

export interface ConnectionPool {
  newStream(sink: UpstreamResponseSink, client: PoolClient): PoolRequest | null;
  /** Stop handing out connections; close idle ones now and busy ones when their stream ends. */
  drain(): void;
  /** Destroy everything now. */
  destroy(): void;
  readonly activeStreams: number;
}
