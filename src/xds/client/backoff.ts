// Reconnect delays for the ADS stream: exponential growth with "full jitter" (each delay is
// uniform in [0, min(max, base * 2^attempt))). Envoy retries a broken xDS stream the same
// way, with a 500 ms base and a 30 s ceiling (its JitteredExponentialBackOffStrategy behind
// the gRPC mux), and resets once the stream delivers a response. Full jitter spreads the
// reconnects of many sidecars after a control-plane restart instead of having them arrive
// in waves.

export interface BackoffOptions {
  /** First ceiling, ms (default 500). */
  baseMs?: number;
  /** Largest ceiling, ms (default 30 000). */
  maxMs?: number;
  /** Uniform random in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 30_000;

export class Backoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private attempts = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = Math.max(1, opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS);
    this.maxMs = Math.max(this.baseMs, opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS);
    this.random = opts.random ?? Math.random;
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.attempts;
  }

  /** The ceiling for the next delay: base * 2^attempts, capped at max. */
  ceiling(): number {
    // 2^31 already exceeds any sensible max; stop doubling before floats get silly.
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempts, 31));
  }

  /** The delay before the next try, and counts it as a failure. */
  next(): number {
    const c = this.ceiling();
    this.attempts++;
    const r = this.random();
    const u = r >= 0 && r < 1 ? r : 0;
    return Math.floor(u * c);
  }

  reset(): void {
    this.attempts = 0;
  }
}
