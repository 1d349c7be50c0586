// Outlier detection, decoded (config.cluster.v3.OutlierDetection), every default resolved
// at decode time as the proto documents it.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto

export interface OutlierConfig {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  /** max(max_ejection_time (default 300 s), base_ejection_time). */
  maxEjectionTimeMs: number;
  maxEjectionTimeJitterMs: number;
  maxEjectionPercent: number;
  /** Percent chance that a detected outlier is really ejected, per kind. */
  enforcingConsecutive5xx: number;
  enforcingConsecutiveGatewayFailure: number;
  enforcingConsecutiveLocalOriginFailure: number;
  enforcingSuccessRate: number;
  enforcingLocalOriginSuccessRate: number;
  enforcingFailurePercentage: number;
  enforcingFailurePercentageLocalOrigin: number;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  /** success_rate_stdev_factor / 1000 (default 1.9). */
  successRateStdevFactor: number;
  failurePercentageThreshold: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
  splitExternalLocalOriginErrors: boolean;
  successfulActiveHealthCheckUnejectHost: boolean;
  alwaysEjectOneHost: boolean;
}
