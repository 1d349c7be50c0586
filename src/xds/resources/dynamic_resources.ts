// envoy.config.bootstrap.v3.Bootstrap.DynamicResources (canonical form) → DynamicResourcesConfig.
// Switchyard speaks xDS over one ADS stream (v3 transport, SotW or Delta); listeners and
// clusters come over it (`ads: {}`) or from files (path_config_source).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/bootstrap/v3/bootstrap.proto#config-bootstrap-v3-bootstrap-dynamicresources
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto#config-core-v3-apiconfigsource
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/grpc_service.proto
import * as net from 'node:net';
import { ConfigIssues, join } from '../../config/issues';
import type { ClusterConfig, DynamicResourcesConfig } from '../../config/types';
import type { Canon } from '../proto/canonical';
import { DEFAULT_INITIAL_FETCH_TIMEOUT_MS, decodeConfigSource } from './config_source';
import { NOT_SUPPORTED, onlyFields, readBool, readList, readMessage, readString } from './fields';

const API_TYPES: Record<string, NonNullable<DynamicResourcesConfig['ads']>['api']> = { GRPC: 'sotw', DELTA_GRPC: 'delta' };

/**
 * Decodes dynamic_resources; `clusters` are the decoded static clusters, which an
 * envoy_grpc ADS service must name. Undefined when absent, or when ads_config is unusable
 * (the problem is reported).
 */
export function decodeDynamicResources(
  dr: Canon | undefined, path: string, clusters: readonly ClusterConfig[], issues: ConfigIssues,
): DynamicResourcesConfig | undefined {
  if (!dr) return undefined;
  // lds_resources_locator / cds_resources_locator are xdstp:// names (federation).
  onlyFields(dr, path, issues, ['ads_config', 'lds_config', 'cds_config']);
  const ldsCanon = readMessage(dr, 'lds_config');
  const cdsCanon = readMessage(dr, 'cds_config');
  const lds = decodeConfigSource(ldsCanon, join(path, 'lds_config'), issues);
  const cds = decodeConfigSource(cdsCanon, join(path, 'cds_config'), issues);
  // lds_config / cds_config say `ads`, which means "the ads_config stream": it must exist.
  // With only files (or nothing) configured, ads_config may be left out.
  const adsCanon = readMessage(dr, 'ads_config');
  const needsAds = (ldsCanon && lds?.kind !== 'path') || (cdsCanon && cds?.kind !== 'path');
  if (!adsCanon && needsAds) {
    issues.add(join(path, 'ads_config'), 'is required (lds_config / cds_config say `ads: {}`: ADS must be configured to support an ADS config source)');
    return undefined;
  }
  const ads = adsCanon ? decodeAdsConfig(adsCanon, join(path, 'ads_config'), clusters, issues) : undefined;
  if (adsCanon && !ads) return undefined;
  if ((ldsCanon && !lds) || (cdsCanon && !cds)) return undefined;
  return {
    ...(ads ? { ads } : {}),
    lds: lds !== undefined,
    cds: cds !== undefined,
    ...(lds?.kind === 'path' ? { ldsPath: lds } : {}),
    ...(cds?.kind === 'path' ? { cdsPath: cds } : {}),
    initialFetchTimeoutMs: combinedTimeout([ldsCanon && lds, cdsCanon && cds]),
  };
}

/**
 * One timeout for the initial fetch of LDS and CDS together: each subscription's own
 * (Envoy's 15 s default when unset), the longest winning, and 0 (wait forever) longest of all.
 */
function combinedTimeout(sources: ({ initialFetchTimeoutMs?: number } | undefined)[]): number {
  const set = sources.filter((s) => s !== undefined).map((s) => s!.initialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS);
  if (set.length === 0) return DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
  return set.includes(0) ? 0 : Math.max(...set);
}

function decodeAdsConfig(
  a: Canon, path: string, clusters: readonly ClusterConfig[], issues: ConfigIssues,
): DynamicResourcesConfig['ads'] {
  // cluster_names, refresh_delay and request_timeout are REST-only; rate_limit_settings and
  // config_validators are not implemented. set_node_on_first_message_only is what the client does anyway.
  onlyFields(a, path, issues, ['api_type', 'transport_api_version', 'grpc_services', 'set_node_on_first_message_only']);
  readBool(a, 'set_node_on_first_message_only');

  const apiType = readString(a, 'api_type');
  const api = apiType !== undefined ? API_TYPES[apiType] : undefined;
  if (apiType === undefined || apiType === 'DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE') {
    issues.add(join(path, 'api_type'), 'is required: set GRPC or DELTA_GRPC');
  } else if (!api) {
    issues.add(join(path, 'api_type'), `${JSON.stringify(apiType)} ${NOT_SUPPORTED} (supported: GRPC, DELTA_GRPC)`);
  }

  // Unset (AUTO) and V2 both mean the v2 transport, which Envoy itself no longer speaks.
  const tav = readString(a, 'transport_api_version');
  if (tav === undefined || tav === 'AUTO') issues.add(join(path, 'transport_api_version'), 'is required: set V3');
  else if (tav !== 'V3') issues.add(join(path, 'transport_api_version'), `${JSON.stringify(tav)} ${NOT_SUPPORTED} (only V3)`);

  const services = readList(a, 'grpc_services');
  const sp = join(path, 'grpc_services');
  // Envoy cycles through several services on failure; Switchyard dials one.
  if (services.length !== 1) issues.add(sp, `must have exactly one entry (got ${services.length})`);
  const targets = services.map((g: Canon, i: number) => decodeGrpcService(g, join(sp, i), clusters, issues));
  const target = services.length === 1 ? targets[0] : undefined;
  if (!api || !target) return undefined;
  return { api, ...target };
}

function decodeGrpcService(
  g: Canon, path: string, clusters: readonly ClusterConfig[], issues: ConfigIssues,
): { target: string; clusterName?: string } | undefined {
  // timeout, initial_metadata and retry_policy are not implemented.
  onlyFields(g, path, issues, ['envoy_grpc', 'google_grpc']);
  const envoy = readMessage(g, 'envoy_grpc');
  if (envoy) return decodeEnvoyGrpc(envoy, join(path, 'envoy_grpc'), clusters, issues);
  const google = readMessage(g, 'google_grpc');
  if (google) return decodeGoogleGrpc(google, join(path, 'google_grpc'), issues);
  return undefined; // the proto layer reports the missing target_specifier
}

/**
 * envoy_grpc names a cluster. The ADS stream is opened before anything else, so (like
 * Envoy's "must be statically defined") it must be a static cluster; Switchyard dials its
 * one endpoint directly, so it must be STATIC with exactly one endpoint, and speak HTTP/2.
 */
function decodeEnvoyGrpc(
  e: Canon, path: string, clusters: readonly ClusterConfig[], issues: ConfigIssues,
): { target: string; clusterName: string } | undefined {
  // authority, retry_policy, max_receive_message_length and skip_envoy_headers are not implemented.
  onlyFields(e, path, issues, ['cluster_name']);
  const name = readString(e, 'cluster_name', '');
  if (!name) return undefined; // "must not be empty" comes from the proto layer
  const p = join(path, 'cluster_name');
  const c = clusters.find((x) => x.name === name);
  if (!c) {
    issues.add(p, `unknown cluster "${name}": must name a cluster in static_resources.clusters`);
    return undefined;
  }
  let ok = true;
  if (c.type !== 'STATIC') {
    issues.add(p, `cluster "${name}" has type ${c.type}; switchyard needs a STATIC cluster for the ADS server`);
    ok = false;
  }
  const endpoints = c.localities.flatMap((l) => l.endpoints);
  if (endpoints.length !== 1) {
    issues.add(p, `cluster "${name}" has ${endpoints.length} endpoints; switchyard needs exactly one for the ADS server`);
    ok = false;
  }
  if (c.upstreamProtocol !== 'http2') {
    issues.add(p, `cluster "${name}" must use HTTP/2 for gRPC: set typed_extension_protocol_options with ` +
      'explicit_http_config.http2_protocol_options (or http2_protocol_options)');
    ok = false;
  }
  if (!ok) return undefined;
  const { address, port } = endpoints[0].address;
  return { target: net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`, clusterName: name };
}

/** google_grpc: a gRPC target URI, dialled as is; only an insecure channel is supported yet. */
function decodeGoogleGrpc(g: Canon, path: string, issues: ConfigIssues): { target: string } | undefined {
  // call_credentials, credentials_factory_name, config, per_stream_buffer_limit_bytes and
  // channel_args are not implemented.
  onlyFields(g, path, issues, ['target_uri', 'stat_prefix', 'channel_credentials']);
  const cc = readMessage(g, 'channel_credentials');
  let ok = true;
  for (const k of Object.keys(cc ?? {})) {
    if (cc![k] === undefined) continue;
    issues.add(join(join(path, 'channel_credentials'), k), `${NOT_SUPPORTED} yet (only an insecure channel: leave channel_credentials unset)`);
    ok = false;
  }
  const target = readString(g, 'target_uri', '');
  return ok && target ? { target } : undefined;
}
