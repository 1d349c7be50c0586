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
//
// Resources from xDS are the dynamic_* entries, with the version_info they were accepted
// at; the sections' version_info is the last version_info accepted for the type. A resource
// the ADS client rejected carries error_state (admin.v3.UpdateFailureState) on its entry;
// one that was never accepted still gets an entry holding only what identifies it and its
// error_state (DynamicListener has a `name`; DynamicCluster, DynamicRouteConfig and
// DynamicEndpointConfig have none, so there the rejected resource in
// error_state.failed_configuration names it).
import type { AdminHost, ClusterView, ListenerView } from './host';
import type { Canon } from '../xds/proto/canonical';
import { TYPE_PREFIX, typeName } from '../xds/proto/canonical';
import { fromBinaryAny } from '../xds/proto/binary';
import { ConfigIssues } from '../config/issues';
import type { ResourceDump, UpdateFailureState } from '../xds/client/types';
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

/** What the ADS client holds for one type: the last accepted version_info and each resource. */
interface XdsType {
  version: string;
  resources: Map<string, ResourceDump>;
}

function xdsType(host: AdminHost, t: string): XdsType {
  const url = TYPE_PREFIX + t;
  const dump = host.xdsDump?.();
  const td = dump?.types.find((x) => x.type_url === url);
  return {
    version: dump?.versionInfo[url] ?? td?.version_info ?? '',
    resources: new Map((td?.resources ?? []).map((r) => [r.name, r])),
  };
}

/** The rejected resource as an Any, when its bytes still decode; left out otherwise (the field is optional). */
function failedConfiguration(f: NonNullable<UpdateFailureState['failed_configuration']>): Json | undefined {
  try {
    const canon = fromBinaryAny(f.type_url, f.value, new ConfigIssues());
    return canon === undefined ? undefined : toAnyJson(typeName(f.type_url), canon);
  } catch {
    return undefined;
  }
}

/** admin.v3.UpdateFailureState in proto3 JSON. */
function errorState(f: UpdateFailureState): Json {
  const o: Json = {};
  const failed = f.failed_configuration ? failedConfiguration(f.failed_configuration) : undefined;
  if (failed) o.failed_configuration = failed;
  o.last_update_attempt = f.last_update_attempt;
  if (f.details) o.details = f.details;
  if (f.version_info) o.version_info = f.version_info;
  return o;
}

/** Rejected resources of the type that have no entry of their own (`shown`): never accepted. */
function orphanFailures(x: XdsType, shown: ReadonlySet<string>): Array<{ name: string; error_state: Json }> {
  const out: Array<{ name: string; error_state: Json }> = [];
  for (const r of x.resources.values()) {
    if (r.error_state && !shown.has(r.name)) out.push({ name: r.name, error_state: errorState(r.error_state) });
  }
  return out;
}

function bootstrapSection(host: AdminHost): Section {
  const bootstrap = toProtoJson(T_BOOTSTRAP, host.bootstrap.raw ?? {});
  return { type: 'BootstrapConfigDump', body: { bootstrap, last_updated: ts(host.startTime) }, items: {} };
}

function clustersSection(host: AdminHost): Section {
  const stat: Json[] = [];
  const dyn: Json[] = [];
  const x = xdsType(host, T_CLUSTER);
  const shown = new Set<string>();
  let version = '';
  for (const v of host.clusters() as ClusterViewExtras[]) {
    const cluster = toAnyJson(T_CLUSTER, v.config.raw ?? { name: v.config.name });
    const last_updated = ts(v.lastUpdated ?? host.startTime);
    shown.add(v.config.name);
    if (!v.addedViaApi) {
      stat.push({ cluster, last_updated });
    } else {
      const r = x.resources.get(v.config.name);
      const d: Json = {};
      const ver = v.versionInfo ?? r?.version;
      if (ver) d.version_info = ver;
      d.cluster = cluster;
      d.last_updated = last_updated;
      if (r?.error_state) d.error_state = errorState(r.error_state);
      dyn.push(d);
      if (ver) version = ver;
    }
  }
  // Warming clusters (accepted, waiting for their endpoints): Envoy lists them apart, in
  // dynamic_warming_clusters, and an active older version of the same name stays active.
  const warm: Json[] = [];
  for (const w of host.warming?.().clusters ?? []) {
    shown.add(w.config.name);
    const d: Json = {};
    if (w.versionInfo) d.version_info = w.versionInfo;
    d.cluster = toAnyJson(T_CLUSTER, w.config.raw ?? { name: w.config.name });
    d.last_updated = ts(w.lastUpdated);
    const r = x.resources.get(w.config.name);
    if (r?.error_state) d.error_state = errorState(r.error_state);
    warm.push(d);
  }
  for (const o of orphanFailures(x, shown)) dyn.push({ error_state: o.error_state });
  const body: Json = {};
  version = x.version || version;
  if (version) body.version_info = version;
  putList(body, 'static_clusters', stat);
  putList(body, 'dynamic_active_clusters', dyn);
  putList(body, 'dynamic_warming_clusters', warm);
  return {
    type: 'ClustersConfigDump',
    body,
    items: {
      static_clusters: { type: 'ClustersConfigDump.StaticCluster', list: stat },
      dynamic_active_clusters: { type: 'ClustersConfigDump.DynamicCluster', list: dyn },
      dynamic_warming_clusters: { type: 'ClustersConfigDump.DynamicCluster', list: warm },
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
  const x = xdsType(host, T_CLA);
  const shown = new Set<string>();
  for (const v of host.clusters() as ClusterViewExtras[]) {
    const endpoint_config = loadAssignment(v.config.name, v.hosts);
    // Endpoints of an EDS cluster came from the API; every other kind is static.
    if (v.config.type === 'EDS') {
      // The ClusterLoadAssignment the cluster follows is named by its EDS service name.
      const eds = v.config.edsServiceName ?? v.config.name;
      shown.add(eds);
      const r = x.resources.get(eds);
      const d: Json = {};
      if (r?.version) d.version_info = r.version;
      d.endpoint_config = endpoint_config;
      d.last_updated = r?.last_updated ?? ts(v.lastUpdated ?? host.startTime);
      if (r?.error_state) d.error_state = errorState(r.error_state);
      dyn.push(d);
    } else {
      stat.push({ endpoint_config, last_updated: ts(v.lastUpdated ?? host.startTime) });
    }
  }
  for (const o of orphanFailures(x, shown)) dyn.push({ error_state: o.error_state });
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
  const x = xdsType(host, T_LISTENER);
  const shown = new Set<string>();
  const byName = new Map<string, Json>();
  let version = '';
  for (const v of host.listeners() as ListenerViewExtras[]) {
    const listener = toAnyJson(T_LISTENER, v.config.raw ?? { name: v.config.name });
    const last_updated = ts(v.lastUpdated);
    shown.add(v.config.name);
    if (!v.addedViaApi) {
      stat.push({ listener, last_updated });
    } else {
      const r = x.resources.get(v.config.name);
      const active_state: Json = {};
      const ver = v.versionInfo ?? r?.version;
      if (ver) active_state.version_info = version = ver;
      active_state.listener = listener;
      active_state.last_updated = last_updated;
      const d: Json = { name: v.config.name, active_state };
      if (r?.error_state) d.error_state = errorState(r.error_state);
      dyn.push(d);
      byName.set(v.config.name, d);
    }
  }
  // A warming listener (waiting for its route tables) is a warming_state on its
  // DynamicListener: beside the active_state when an older version still serves.
  for (const w of host.warming?.().listeners ?? []) {
    const warming_state: Json = {};
    if (w.versionInfo) warming_state.version_info = w.versionInfo;
    warming_state.listener = toAnyJson(T_LISTENER, w.config.raw ?? { name: w.config.name });
    warming_state.last_updated = ts(w.lastUpdated);
    let d = byName.get(w.config.name);
    if (d === undefined) {
      d = { name: w.config.name };
      const r = x.resources.get(w.config.name);
      if (r?.error_state) d.error_state = errorState(r.error_state);
      dyn.push(d);
      byName.set(w.config.name, d);
      shown.add(w.config.name);
    }
    // Field order as the proto declares it: name, active_state, warming_state, ..., error_state.
    const { error_state, ...rest } = d;
    for (const k of Object.keys(d)) delete d[k];
    Object.assign(d, rest, { warming_state }, error_state === undefined ? {} : { error_state });
  }
  for (const o of orphanFailures(x, shown)) dyn.push(o);
  const body: Json = {};
  version = x.version || version;
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
  const dyn: Json[] = [];
  const x = xdsType(host, T_ROUTE);
  const shown = new Set<string>();
  for (const rc of host.routeConfigs?.() ?? []) {
    shown.add(rc.name);
    const r = x.resources.get(rc.name);
    const d: Json = {};
    if (rc.version) d.version_info = rc.version;
    d.route_config = toAnyJson(T_ROUTE, rc.raw ?? { name: rc.name });
    d.last_updated = ts(rc.lastUpdated);
    if (r?.error_state) d.error_state = errorState(r.error_state);
    dyn.push(d);
  }
  for (const o of orphanFailures(x, shown)) dyn.push({ error_state: o.error_state });
  const body: Json = {};
  putList(body, 'static_route_configs', stat);
  putList(body, 'dynamic_route_configs', dyn);
  return {
    type: 'RoutesConfigDump',
    body,
    items: {
      static_route_configs: { type: 'RoutesConfigDump.StaticRouteConfig', list: stat },
      dynamic_route_configs: { type: 'RoutesConfigDump.DynamicRouteConfig', list: dyn },
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
