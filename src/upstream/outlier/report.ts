// How the HTTP router and tcp_proxy report an upstream attempt's outcome to outlier
// detection: one call where the attempt ends. A no-op for clusters without outlier_detection.
import type { Host } from '../host';
import { OutlierResult } from './host_monitor';

/**
 * An HTTP request's outcome, from its final status and response flag: a status from the
 * upstream counts as that status (after a successful connect); a connect failure or reset
 * (UF, UC, UR) as a local-origin connect failure; a timeout (UT) as a local-origin timeout
 * (504 when errors are not split). Overflow (UO), downstream resets and local replies that
 * never reached the host count for nothing, as in Envoy's router.
 */
export function reportHttpOutcome(host: Host, status: number, flag: string): void {
  const m = host.outlier;
  if (m === null) return;
  switch (flag) {
    case '':
      if (status > 0) {
        m.putResult(OutlierResult.LocalOriginConnectSuccess);
        m.putHttpResponseCode(status);
      }
      return;
    case 'UF':
    case 'UC':
    case 'UR':
      m.putResult(OutlierResult.LocalOriginConnectFailed);
      return;
    case 'UT':
      m.putResult(OutlierResult.LocalOriginTimeout, 504);
      return;
    default:
      return;
  }
}

/** A TCP connect attempt's outcome (tcp_proxy): connected, failed, or timed out. */
export function reportConnectOutcome(host: Host, outcome: 'connected' | 'failed' | 'timeout'): void {
  const m = host.outlier;
  if (m === null) return;
  m.putResult(outcome === 'connected' ? OutlierResult.LocalOriginConnectSuccessFinal : outcome === 'timeout' ? OutlierResult.LocalOriginTimeout : OutlierResult.LocalOriginConnectFailed);
}
