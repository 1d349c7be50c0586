// envoy.config.core.v3.ConfigSource (canonical form), wherever a resource names where its
// dependents come from: bootstrap lds_config / cds_config, Cluster eds_config, HCM
// rds.config_source. Switchyard fetches everything over the one ADS stream of the
// bootstrap, so `ads: {}` is the only source it accepts; the rest are named and rejected.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto
import { ConfigIssues, join } from '../../config/issues';
import type { Canon } from '../proto/canonical';
import { NOT_SUPPORTED, onlyFields, readDurationMs, readEnum, readMessage } from './fields';

/** Envoy: "The default is 15s" for ConfigSource.initial_fetch_timeout. */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** The sources of the config_source_specifier oneof that Switchyard does not fetch from. */
const OTHER_SOURCES = ['path', 'path_config_source', 'api_config_source', 'self'];

export interface AdsConfigSource {
  /** initial_fetch_timeout when set (0 = wait forever); undefined = Envoy's default applies. */
  initialFetchTimeoutMs?: number;
}

/**
 * Decodes a ConfigSource that must be `ads: {}` (optionally with resource_api_version V3
 * and initial_fetch_timeout). Returns undefined, with the problem reported, when it is not.
 * An absent specifier is already reported by the proto layer (the oneof is required).
 */
export function decodeAdsConfigSource(cs: Canon | undefined, path: string, issues: ConfigIssues): AdsConfigSource | undefined {
  if (!cs) return undefined;
  // authorities is xdstp:// federation, which Switchyard does not do.
  onlyFields(cs, path, issues, ['ads', 'initial_fetch_timeout', 'resource_api_version', ...OTHER_SOURCES]);
  let ok = true;
  for (const f of OTHER_SOURCES) {
    if (cs[f] !== undefined) {
      issues.add(join(path, f), `${NOT_SUPPORTED} yet (use "ads: {}": switchyard fetches only over the bootstrap's ads_config stream)`);
      ok = false;
    }
  }
  const ads = readMessage(cs, 'ads');
  // AggregatedConfigSource has no fields; anything the proto layer let through is unknown to us.
  onlyFields(ads, join(path, 'ads'), issues, []);
  // AUTO (unset) means V3 for resources since Envoy dropped v2; V2 is gone.
  readEnum(cs, 'resource_api_version', path, issues, 'V3', ['AUTO', 'V3'] as const);
  const initialFetchTimeoutMs = readDurationMs(cs, 'initial_fetch_timeout', path, issues);
  if (!ok || !ads) return undefined;
  return initialFetchTimeoutMs === undefined ? {} : { initialFetchTimeoutMs };
}
