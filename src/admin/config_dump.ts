// GET /config_dump: envoy.admin.v3.ConfigDump in proto3 JSON.
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--config_dump
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/admin/v3/config_dump.proto
//
// `configs` holds, in Envoy's order: BootstrapConfigDump, ClustersConfigDump,
// EndpointsConfigDump (only with ?include_eds), ListenersConfigDump, RoutesConfigDump.
// Static route configs are the route_config written inline in an HTTP connection
// manager: RoutesConfigDump's doc counts routes "defined inline while configuring
// listeners" as static. Fields holding proto3 defaults (empty lists, "") are left out,
// as Envoy's JSON serialisation does.
import type { AdminHost, ClusterView, ListenerView } from './host';
import type { Canon } from '../xds/proto/canonical';
import { TYPE_PREFIX } from '../xds/proto/canonical';
import type { Host } from '../upstream/host';
import { toAnyJson, toProtoJson } from './proto_json';

type Json = Record<string, unknown>;

const ADMIN = 'envoy.admin.v3.';
const T_CLUSTER = 'envoy.config.cluster.v3.Cluster';
const T_LISTENER = 'envoy.config.listener.v3.Listener';
const T_ROUTE = 'envoy.config.route.v3.RouteConfiguration';
const T_CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const T_BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const HCM_URL = TYPE_PREFIX + 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/**
 * Optional extras a ClusterView may carry; not (yet) part of src/admin/host.ts, so read
 * defensively: without them last_updated falls back to the start time and version_info
 * is left out.
 */
type ClusterViewExtras = ClusterView & { lastUpdated?: Date; versionInfo?: string };
type ListenerViewExtras = ListenerView & { versionInfo?: string };

export interface ConfigDumpOptions {
  /** ?resource=: only the entries of that repeated field, each as an Any. */
  resource?: string;
  /** ?include_eds: add the EndpointsConfigDump. */
  includeEds: boolean;
}

/** One section of the dump: its admin message type and the message itself. */
interface Section {
  type: string;
  body: Json;
  /** Repeated fields that ?resource= can select, with the type of their items. */
  items: Record<string, { type: string; list: Json[] }>;
}

function ts(d: Date): string {
  return d.toISOString();
}

/** Adds k only when the list is non-empty (proto3 JSON leaves empty repeated fields out). */
function putList(o: Json, k: string, list: Json[]): void {
  if (list.length) o[k] = list;
}

function bootstrapSection(host: AdminHost): Section {
  const bootstrap = toProtoJson(T_BOOTSTRAP, host.bootstrap.raw ?? {});
  return { type: 'BootstrapConfigDump', body: { bootstrap, last_updated: ts(host.startTime) }, items: {} };
}

function clustersSection(host: AdminHost): Section {
  const stat: Json[] = [];
  const dyn: Json[] = [];
  let version = '';
  for (const v of host.clusters() as ClusterViewExtras[]) {
    const cluster = toAnyJson(T_CLUSTER, v.config.raw ?? { name: v.config.name });
    const last_updated = ts(v.lastUpdated ?? host.startTime);
    if (!v.addedViaApi) {
      stat.push({ cluster, last_updated });
    } else {
      const d: Json = {};
      if (v.versionInfo) d.version_info = v.versionInfo;
      d.cluster = cluster;
      d.last_updated = last_updated;
      dyn.push(d);
      if (v.versionInfo) version = v.versionInfo;
    }
  }
  const body: Json = {};
  if (version) body.version_info = version;
  putList(body, 'static_clusters', stat);
  putList(body, 'dynamic_active_clusters', dyn);
  return {
    type: 'ClustersConfigDump',
    body,
    items: {
      static_clusters: { type: 'ClustersConfigDump.StaticCluster', list: stat },
      dynamic_active_clusters: { type: 'ClustersConfigDump.DynamicCluster', list: dyn },
    },
  };
}

/** The cluster's endpoints as the ClusterLoadAssignment Envoy would report for it. */
function loadAssignment(name: string, hosts: Host[]): Json {
  const groups = new Map<string, { locality: Host['locality']; priority: number; hosts: Host[] }>();
  for (const h of hosts) {
    const key = `${h.priority}|${h.locality?.region ?? ''}|${h.locality?.zone ?? ''}|${h.locality?.sub_zone ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { locality: h.locality, priority: h.priority, hosts: [] }));
    g.hosts.push(h);
  }
  const endpoints = [...groups.values()].map((g) => {
    const o: Json = {};
    const loc: Json = {};
    for (const k of ['region', 'zone', 'sub_zone'] as const) if (g.locality?.[k]) loc[k] = g.locality[k];
    if (Object.keys(loc).length) o.locality = loc;
    o.lb_endpoints = g.hosts.map((h) => {
      const endpoint: Json = { address: { socket_address: { address: h.address, port_value: h.port } } };
      if (h.hostname) endpoint.hostname = h.hostname;
      const e: Json = { endpoint };
      if (h.edsHealth !== 'UNKNOWN') e.health_status = h.edsHealth;
      e.load_balancing_weight = h.weight;
      return e;
    });
    if (g.priority) o.priority = g.priority;
    return o;
  });
  const cla: Json = { '@type': TYPE_PREFIX + T_CLA, cluster_name: name };
  putList(cla, 'endpoints', endpoints);
  return cla;
}

function endpointsSection(host: AdminHost): Section {
  const stat: Json[] = [];
  const dyn: Json[] = [];
  for (const v of host.clusters() as ClusterViewExtras[]) {
    const endpoint_config = loadAssignment(v.config.name, v.hosts);
    const last_updated = ts(v.lastUpdated ?? host.startTime);
    // Endpoints of an EDS cluster came from the API; every other kind is static.
    if (v.config.type === 'EDS') dyn.push({ endpoint_config, last_updated });
    else stat.push({ endpoint_config, last_updated });
  }
  const body: Json = {};
  putList(body, 'static_endpoint_configs', stat);
  putList(body, 'dynamic_endpoint_configs', dyn);
  return {
    type: 'EndpointsConfigDump',
    body,
    items: {
      static_endpoint_configs: { type: 'EndpointsConfigDump.StaticEndpointConfig', list: stat },
      dynamic_endpoint_configs: { type: 'EndpointsConfigDump.DynamicEndpointConfig', list: dyn },
    },
  };
}

function listenersSection(host: AdminHost): Section {
  const stat: Json[] = [];
  const dyn: Json[] = [];
  let version = '';
  for (const v of host.listeners() as ListenerViewExtras[]) {
    const listener = toAnyJson(T_LISTENER, v.config.raw ?? { name: v.config.name });
    const last_updated = ts(v.lastUpdated);
    if (!v.addedViaApi) {
      stat.push({ listener, last_updated });
    } else {
      const active_state: Json = {};
      if (v.versionInfo) active_state.version_info = version = v.versionInfo;
      active_state.listener = listener;
      active_state.last_updated = last_updated;
      dyn.push({ name: v.config.name, active_state });
    }
  }
  const body: Json = {};
  if (version) body.version_info = version;
  putList(body, 'static_listeners', stat);
  putList(body, 'dynamic_listeners', dyn);
  return {
    type: 'ListenersConfigDump',
    body,
    items: {
      static_listeners: { type: 'ListenersConfigDump.StaticListener', list: stat },
      dynamic_listeners: { type: 'ListenersConfigDump.DynamicListener', list: dyn },
    },
  };
}

/** Inline route_config of every HTTP connection manager in the listener (canonical form). */
export function inlineRouteConfigs(listenerRaw: Canon | undefined): Canon[] {
  const out: Canon[] = [];
  if (!listenerRaw) return out;
  const chains: Canon[] = [...(listenerRaw.filter_chains ?? [])];
  if (listenerRaw.default_filter_chain) chains.push(listenerRaw.default_filter_chain);
  for (const chain of chains) {
    for (const f of chain.filters ?? []) {
      const tc = f.typed_config;
      if (tc && tc['@type'] === HCM_URL && tc.route_config) out.push(tc.route_config);
    }
  }
  return out;
}

function routesSection(host: AdminHost): Section {
  const stat: Json[] = [];
  for (const v of host.listeners()) {
    for (const rc of inlineRouteConfigs(v.config.raw)) {
      stat.push({ route_config: toAnyJson(T_ROUTE, rc), last_updated: ts(v.lastUpdated) });
    }
  }
  const body: Json = {};
  putList(body, 'static_route_configs', stat);
  return {
    type: 'RoutesConfigDump',
    body,
    items: {
      static_route_configs: { type: 'RoutesConfigDump.StaticRouteConfig', list: stat },
      dynamic_route_configs: { type: 'RoutesConfigDump.DynamicRouteConfig', list: [] },
    },
  };
}

export class UnknownResourceError extends Error {
  readonly code = 'ADMIN_UNKNOWN_RESOURCE';
}

/** The /config_dump body. Throws UnknownResourceError for a ?resource= no section has. */
export function configDump(host: AdminHost, opts: ConfigDumpOptions): { configs: Json[] } {
  const sections = [bootstrapSection(host), clustersSection(host)];
  if (opts.includeEds) sections.push(endpointsSection(host));
  sections.push(listenersSection(host), routesSection(host));
  if (opts.resource !== undefined) {
    for (const s of sections) {
      const sel = s.items[opts.resource];
      if (sel) return { configs: sel.list.map((x) => ({ '@type': TYPE_PREFIX + ADMIN + sel.type, ...x })) };
    }
    throw new UnknownResourceError(`no config_dump resource named '${opts.resource}'`);
  }
  return { configs: sections.map((s) => ({ '@type': TYPE_PREFIX + ADMIN + s.type, ...s.body })) };
}
