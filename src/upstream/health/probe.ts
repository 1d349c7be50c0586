// What a health-check probe is to the checker: one object per host that runs one check at a
// time over its own connection (kept between checks when reuse_connection is true, as Envoy
// does) and reports a single result per check.
import type { FailureType } from './state';

export type ProbeResult =
  | { ok: true; degraded: boolean }
  | { ok: false; type: FailureType; retriable: boolean; detail: string };

export interface ProbeTarget {
  /** The IP and port checks go to (the host's, or its health_check_config.port_value). */
  ip: string;
  port: number;
  /** Host / :authority for L7 checks. */
  authority: string;
  /** 'ip:port' of the host, for %UPSTREAM_REMOTE_ADDRESS% in added headers. */
  hostKey: string;
}

export interface Probe {
  /** Starts one check; `done` is called exactly once unless abort() comes first. */
  check(done: (r: ProbeResult) => void): void;
  /** The check timed out: drop what is in flight and close the connection. */
  abort(): void;
  /** The host or the checker is gone: close everything, no more callbacks. */
  close(): void;
}

export const OK: ProbeResult = { ok: true, degraded: false };
export const OK_DEGRADED: ProbeResult = { ok: true, degraded: true };

export function networkFailure(detail: string): ProbeResult {
  return { ok: false, type: 'network', retriable: true, detail };
}

export function activeFailure(detail: string, retriable = false): ProbeResult {
  return { ok: false, type: 'active', retriable, detail };
}

/**
 * Envoy's payload matching for TCP and HTTP checks: every block must appear in `data`,
 * in order, not necessarily contiguous.
 */
export function payloadsMatch(blocks: readonly Buffer[], data: Buffer): boolean {
  let from = 0;
  for (const b of blocks) {
    const i = data.indexOf(b, from);
    if (i === -1) return false;
    from = i + b.length;
  }
  return true;
}
