// GET /clusters: upstream cluster status, as Envoy's text lines or as the
// envoy.admin.v3.Clusters proto in JSON (?format=json).
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--clusters
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/admin/v3/clusters.proto
import type { ClusterView } from './host';
import { HealthFlag, type Host } from '../upstream/host';

/** Per-host stats in the order Envoy prints them (by name), with their kind. */
const HOST_STATS: ReadonlyArray<[keyof Host['stats'], 'COUNTER' | 'GAUGE']> = [
  ['cx_active', 'GAUGE'],
  ['cx_connect_fail', 'COUNTER'],
  ['cx_total', 'COUNTER'],
  ['rq_active', 'GAUGE'],
  ['rq_error', 'COUNTER'],
  ['rq_success', 'COUNTER'],
  ['rq_timeout', 'COUNTER'],
  ['rq_total', 'COUNTER'],
];

interface Thresholds {
  priority: 'DEFAULT' | 'HIGH';
  max_connections: number;
  max_pending_requests: number;
  max_requests: number;
  max_retries: number;
}

/**
 * circuit_breakers.thresholds of the cluster, one per routing priority, with Envoy's
 * defaults (1024 / 1024 / 1024 / 3) for anything unset.
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto
 */
export function circuitBreakerThresholds(view: ClusterView): Thresholds[] {
  const configured: Array<Record<string, unknown>> = view.config.raw?.circuit_breakers?.thresholds ?? [];
  return (['DEFAULT', 'HIGH'] as const).map((priority) => {
    const t = configured.find((x) => (x.priority ?? 'DEFAULT') === priority) ?? {};
    const num = (k: string, d: number) => (typeof t[k] === 'number' ? (t[k] as number) : d);
    return {
      priority,
      max_connections: num('max_connections', 1024),
      max_pending_requests: num('max_pending_requests', 1024),
      max_requests: num('max_requests', 1024),
      max_retries: num('max_retries', 3),
    };
  });
}

/** The cluster's observability name: alt_stat_name when set, else its name (as Envoy). */
function observabilityName(view: ClusterView): string {
  const alt = view.config.raw?.alt_stat_name;
  return typeof alt === 'string' && alt !== '' ? alt : view.config.name;
}

function edsServiceName(view: ClusterView): string {
  const n = view.config.raw?.eds_cluster_config?.service_name;
  return typeof n === 'string' ? n : '';
}

export function clustersText(views: ClusterView[]): string {
  const lines: string[] = [];
  for (const v of views) {
    const name = v.config.name;
    lines.push(`${name}::observability_name::${observabilityName(v)}`);
    for (const t of circuitBreakerThresholds(v)) {
      const p = t.priority === 'DEFAULT' ? 'default_priority' : 'high_priority';
      lines.push(`${name}::${p}::max_connections::${t.max_connections}`);
      lines.push(`${name}::${p}::max_pending_requests::${t.max_pending_requests}`);
      lines.push(`${name}::${p}::max_requests::${t.max_requests}`);
      lines.push(`${name}::${p}::max_retries::${t.max_retries}`);
    }
    lines.push(`${name}::added_via_api::${v.addedViaApi}`);
    const eds = edsServiceName(v);
    if (eds) lines.push(`${name}::eds_service_name::${eds}`);
    for (const h of v.hosts) {
      const pre = `${name}::${h.key}::`;
      for (const [stat] of HOST_STATS) lines.push(`${pre}${stat}::${h.stats[stat]}`);
      lines.push(`${pre}hostname::${h.hostname}`);
      lines.push(`${pre}health_flags::${h.healthFlagsText()}`);
      lines.push(`${pre}weight::${h.weight}`);
      lines.push(`${pre}region::${h.locality?.region ?? ''}`);
      lines.push(`${pre}zone::${h.locality?.zone ?? ''}`);
      lines.push(`${pre}sub_zone::${h.locality?.sub_zone ?? ''}`);
      lines.push(`${pre}canary::false`);
      lines.push(`${pre}priority::${h.priority}`);
      // The last outlier-detection sweep's success rates; -1 when there is no figure (as Envoy).
      lines.push(`${pre}success_rate::${h.outlier?.external?.rate ?? -1}`);
      lines.push(`${pre}local_origin_success_rate::${h.outlier?.localOrigin?.rate ?? -1}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

// ---- ?format=json -------------------------------------------------------------------
// The admin serialises protos with proto3 JSON and leaves out fields holding their
// default value (false, 0, "", empty lists, enum value 0), as the admin doc notes for
// ?format=json; uint64 values (SimpleMetric.value) are strings in proto3 JSON.

type Json = Record<string, unknown>;

/** Sets o[k] = v unless v is a proto3 default (false, 0, '', [], {} or undefined). */
function put(o: Json, k: string, v: unknown): void {
  if (v === undefined || v === false || v === 0 || v === '') return;
  if (Array.isArray(v) && v.length === 0) return;
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return;
  o[k] = v;
}

function socketAddressJson(address: string, port: number): Json {
  const sa: Json = {};
  put(sa, 'address', address);
  put(sa, 'port_value', port);
  return { socket_address: sa };
}

function hostStatusJson(h: Host): Json {
  const stats = HOST_STATS.map(([stat, type]) => {
    const m: Json = {};
    put(m, 'name', stat);
    put(m, 'value', h.stats[stat] === 0 ? undefined : String(h.stats[stat]));
    put(m, 'type', type === 'COUNTER' ? undefined : type); // COUNTER is enum value 0
    return m;
  });
  const health: Json = {};
  put(health, 'failed_active_health_check', (h.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0);
  put(health, 'failed_outlier_check', (h.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0);
  put(health, 'failed_active_degraded_check', (h.healthFlags & HealthFlag.DEGRADED_ACTIVE_HC) !== 0);
  put(health, 'pending_dynamic_removal', (h.healthFlags & HealthFlag.PENDING_DYNAMIC_REMOVAL) !== 0);
  put(health, 'pending_active_hc', (h.healthFlags & HealthFlag.PENDING_ACTIVE_HC) !== 0);
  // Envoy reports an endpoint without an EDS health status as HEALTHY.
  put(health, 'eds_health_status', h.edsHealth === 'UNKNOWN' ? 'HEALTHY' : h.edsHealth);
  const locality: Json = {};
  put(locality, 'region', h.locality?.region);
  put(locality, 'zone', h.locality?.zone);
  put(locality, 'sub_zone', h.locality?.sub_zone);
  const out: Json = {};
  put(out, 'address', socketAddressJson(h.address, h.port));
  put(out, 'stats', stats);
  put(out, 'health_status', health);
  put(out, 'weight', h.weight);
  put(out, 'hostname', h.hostname);
  put(out, 'priority', h.priority);
  put(out, 'locality', locality);
  const sr = h.outlier?.external?.rate ?? -1;
  const lsr = h.outlier?.localOrigin?.rate ?? -1;
  if (sr >= 0) out.success_rate = { value: sr };
  if (lsr >= 0) out.local_origin_success_rate = { value: lsr };
  return out;
}

export function clustersJson(views: ClusterView[]): Json {
  const statuses = views.map((v) => {
    const thresholds = circuitBreakerThresholds(v).map((t) => {
      const o: Json = {};
      put(o, 'priority', t.priority === 'DEFAULT' ? undefined : t.priority);
      put(o, 'max_connections', t.max_connections);
      put(o, 'max_pending_requests', t.max_pending_requests);
      put(o, 'max_requests', t.max_requests);
      put(o, 'max_retries', t.max_retries);
      return o;
    });
    const s: Json = {};
    put(s, 'name', v.config.name);
    put(s, 'added_via_api', v.addedViaApi);
    put(s, 'host_statuses', v.hosts.map(hostStatusJson));
    put(s, 'circuit_breakers', { thresholds });
    put(s, 'observability_name', observabilityName(v));
    put(s, 'eds_service_name', edsServiceName(v));
    return s;
  });
  const out: Json = {};
  put(out, 'cluster_statuses', statuses);
  return out;
}
