// config.cluster.v3.OutlierDetection (canonical form) → OutlierConfig, with Envoy's
// documented defaults.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto
import { ConfigIssues, join } from '../../config/issues';
import type { Canon } from '../proto/canonical';
import type { OutlierConfig } from '../../upstream/outlier/config';
import { onlyFields, readBool, readDurationMs, readNumber } from './fields';

const FIELDS = [
  'consecutive_5xx', 'interval', 'base_ejection_time', 'max_ejection_percent', 'enforcing_consecutive_5xx',
  'enforcing_success_rate', 'success_rate_minimum_hosts', 'success_rate_request_volume', 'success_rate_stdev_factor',
  'consecutive_gateway_failure', 'enforcing_consecutive_gateway_failure', 'split_external_local_origin_errors',
  'consecutive_local_origin_failure', 'enforcing_consecutive_local_origin_failure', 'enforcing_local_origin_success_rate',
  'failure_percentage_threshold', 'enforcing_failure_percentage', 'enforcing_failure_percentage_local_origin',
  'failure_percentage_minimum_hosts', 'failure_percentage_request_volume', 'max_ejection_time', 'max_ejection_time_jitter',
  'successful_active_health_check_uneject_host', 'always_eject_one_host',
];

const PERCENTS = [
  'max_ejection_percent', 'enforcing_consecutive_5xx', 'enforcing_success_rate', 'enforcing_consecutive_gateway_failure',
  'enforcing_consecutive_local_origin_failure', 'enforcing_local_origin_success_rate', 'failure_percentage_threshold',
  'enforcing_failure_percentage', 'enforcing_failure_percentage_local_origin',
];

export function decodeOutlierDetection(c: Canon, path: string, issues: ConfigIssues): OutlierConfig {
  // `monitors` is [#not-implemented-hide:] in Envoy too: rejected by onlyFields.
  onlyFields(c, path, issues, FIELDS);
  for (const f of PERCENTS) if (readNumber(c, f, 0) > 100) issues.add(join(path, f), 'must be at most 100');
  for (const f of ['interval', 'base_ejection_time', 'max_ejection_time']) {
    if (c[f] !== undefined && readDurationMs(c, f, path, new ConfigIssues(), 1) <= 0) issues.add(join(path, f), 'must be greater than 0s');
  }
  const base = readDurationMs(c, 'base_ejection_time', path, issues, 30_000);
  return {
    consecutive5xx: readNumber(c, 'consecutive_5xx', 5),
    consecutiveGatewayFailure: readNumber(c, 'consecutive_gateway_failure', 5),
    consecutiveLocalOriginFailure: readNumber(c, 'consecutive_local_origin_failure', 5),
    intervalMs: readDurationMs(c, 'interval', path, issues, 10_000),
    baseEjectionTimeMs: base,
    // "If not specified, the default value (300000ms or 300s) or base_ejection_time value is
    // applied, whatever is larger."
    maxEjectionTimeMs: Math.max(readDurationMs(c, 'max_ejection_time', path, issues, 300_000), base),
    maxEjectionTimeJitterMs: readDurationMs(c, 'max_ejection_time_jitter', path, issues, 0),
    maxEjectionPercent: readNumber(c, 'max_ejection_percent', 10),
    enforcingConsecutive5xx: readNumber(c, 'enforcing_consecutive_5xx', 100),
    enforcingConsecutiveGatewayFailure: readNumber(c, 'enforcing_consecutive_gateway_failure', 0),
    enforcingConsecutiveLocalOriginFailure: readNumber(c, 'enforcing_consecutive_local_origin_failure', 100),
    enforcingSuccessRate: readNumber(c, 'enforcing_success_rate', 100),
    enforcingLocalOriginSuccessRate: readNumber(c, 'enforcing_local_origin_success_rate', 100),
    enforcingFailurePercentage: readNumber(c, 'enforcing_failure_percentage', 0),
    enforcingFailurePercentageLocalOrigin: readNumber(c, 'enforcing_failure_percentage_local_origin', 0),
    successRateMinimumHosts: readNumber(c, 'success_rate_minimum_hosts', 5),
    successRateRequestVolume: readNumber(c, 'success_rate_request_volume', 100),
    successRateStdevFactor: readNumber(c, 'success_rate_stdev_factor', 1900) / 1000,
    failurePercentageThreshold: readNumber(c, 'failure_percentage_threshold', 85),
    failurePercentageMinimumHosts: readNumber(c, 'failure_percentage_minimum_hosts', 5),
    failurePercentageRequestVolume: readNumber(c, 'failure_percentage_request_volume', 50),
    splitExternalLocalOriginErrors: readBool(c, 'split_external_local_origin_errors', false),
    successfulActiveHealthCheckUnejectHost: readBool(c, 'successful_active_health_check_uneject_host', true),
    alwaysEjectOneHost: readBool(c, 'always_eject_one_host', false),
  };
}
