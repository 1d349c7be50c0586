// One request's retries (Envoy's RetryStateImpl): which responses and resets are retriable
// under the route's retry_policy plus the trusted x-envoy-retry-on / x-envoy-retry-grpc-on /
// x-envoy-max-retries headers, the retry budget and max_retries circuit breakers, the
// jittered exponential back-off, and the hosts already tried (previous_hosts predicate).
// Made only for requests that have a retry policy: requests without one pay nothing.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/http/http_routing#arch-overview-http-routing-retry
import type { HeaderMap } from '../../../http/headers';
import type { RequestHead, ResetReason } from '../../../http/stream';
import { matchHeader } from '../../../routing/match';
import { RetryOn, type RetryPolicy } from '../../../routing/retry_policy';
import type { PriorityResources } from '../../../upstream/circuit_breakers';
import type { ClusterStats } from '../../../upstream/cluster_stats';
import type { Host } from '../../../upstream/host';

const GRPC_BITS: Record<string, number> = {
  '1': RetryOn.GrpcCancelled,
  '4': RetryOn.GrpcDeadlineExceeded,
  '13': RetryOn.GrpcInternal,
  '8': RetryOn.GrpcResourceExhausted,
  '14': RetryOn.GrpcUnavailable,
};

export type RetryDecision = 'retry' | 'limit_exceeded' | 'overflow' | 'no';

export class RetryState {
  remaining: number;
  /** Hosts already tried, for the previous_hosts predicate (null when not configured). */
  readonly tried: Host[] | null;
  private nextBackOffMs: number;
  /** The retries circuit-breaker slot this request holds from a scheduled retry until its outcome. */
  private held: PriorityResources | null = null;

  constructor(
    readonly retryOn: number,
    maxRetries: number,
    readonly policy: RetryPolicy | undefined,
  ) {
    this.remaining = maxRetries;
    this.tried = policy?.previousHosts ? [] : null;
    this.nextBackOffMs = policy?.backOffBaseMs ?? 25;
  }

  /** A response the policy would retry (before limits): retry_on against its status, headers and grpc-status. */
  wouldRetryResponse(status: number, headers: HeaderMap): boolean {
    const on = this.retryOn;
    // Envoy never retries a response that says the upstream is overloaded.
    if (headers.has('x-envoy-overloaded')) return false;
    if (on & RetryOn.R5xx && status >= 500) return true;
    if (on & RetryOn.GatewayError && status >= 502 && status <= 504) return true;
    if (on & RetryOn.Retriable4xx && status === 409) return true;
    if (on & RetryOn.RetriableStatusCodes) {
      if (this.policy !== undefined && this.policy.retriableStatusCodes.includes(status)) return true;
    }
    if (on & RetryOn.RetriableHeaders && this.policy !== undefined && this.policy.retriableHeaders.length > 0) {
      const head: RequestHead = { method: '', path: '', authority: '', scheme: 'http', protocol: 'HTTP/1.1', headers };
      for (const m of this.policy.retriableHeaders) if (matchHeader(m, head)) return true;
    }
    if (on & 0x1f00) {
      // gRPC: the grpc-status of a trailers-only response (it comes with the headers).
      const gs = headers.get('grpc-status');
      if (gs !== undefined) {
        const b = GRPC_BITS[gs.trim()];
        if (b !== undefined && on & b) return true;
      }
    }
    return false;
  }

  /** A reset, connect failure or per-try timeout the policy would retry. */
  wouldRetryReset(reason: ResetReason): boolean {
    if (reason === 'overflow') return false;
    const on = this.retryOn;
    // Envoy counts a reset as a 5xx (it would become one), and "reset" covers every reset.
    if (on & (RetryOn.Reset | RetryOn.R5xx | RetryOn.GatewayError)) return true;
    if (on & RetryOn.RefusedStream && reason === 'refused_stream') return true;
    if (on & RetryOn.ConnectFailure && reason === 'connect_failure') return true;
    return false;
  }

  /**
   * Called with whether the last attempt's outcome is retriable: releases the retry slot that
   * attempt held, then checks num_retries and the retries circuit breaker (or budget).
   */
  shouldRetry(would: boolean, rm: PriorityResources, stats: ClusterStats): RetryDecision {
    this.release();
    if (!would) return 'no';
    if (this.remaining <= 0) {
      stats.upstream_rq_retry_limit_exceeded.inc();
      return 'limit_exceeded';
    }
    this.remaining--;
    if (!rm.retries.canCreate()) {
      stats.upstream_rq_retry_overflow.inc();
      return 'overflow';
    }
    rm.retries.inc();
    this.held = rm;
    stats.upstream_rq_retry.inc();
    stats.upstream_rq_retry_backoff_exponential.inc();
    return 'retry';
  }

  /**
   * Envoy's jittered exponential back-off: a random wait in [0, interval), the interval
   * doubling from base_interval up to max_interval.
   */
  backOffMs(): number {
    const interval = this.nextBackOffMs;
    const max = this.policy?.backOffMaxMs ?? 250;
    this.nextBackOffMs = interval < max / 2 ? interval * 2 : max;
    return Math.min(Math.floor(Math.random() * interval), max);
  }

  release(): void {
    if (this.held !== null) {
      this.held.retries.dec();
      this.held = null;
    }
  }
}
