// Applies what the ADS stream delivers to the running proxy: clusters (CDS) and their
// endpoints (EDS) to the cluster manager, listeners (LDS) to the server, route tables
// (RDS) to the registry the connection managers follow. Each resource is decoded and
// validated on its own; a bad one is NACKed with its path while the good ones of the same
// response apply and the last good version keeps serving (gRFC A46).
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
import type { ClusterConfig, DynamicResourcesConfig, ListenerConfig, NodeInfo, PathSourceSpec } from '../config/types';
import type { HcmConfig } from '../filters/network/http_connection_manager/config';
import { log } from '../log';
import type { SwitchyardServer } from '../server';
import type { Cluster } from '../upstream/cluster';
import type { ClusterLoadAssignmentConfig } from './resources/endpoint';
import { AdsClient } from './client/ads_client';
import { FileSource, type XdsSource } from './client/file_source';
import { RelaySource, snapshotUpdates, type WireUpdate } from './relay';
import { TYPE_URLS, type ResourceUpdate, type TypeDump, type WatchHandler } from './client/types';
import { canonKey } from './proto/canonical';
import {
  decodeClusterLoadAssignmentResource,
  decodeClusterResource,
  decodeListenerResource,
  decodeRouteConfigurationResource,
} from './resources/decode_resource';

/** The source key of the ADS stream (files are keyed by their absolute path). */
const ADS_KEY = 'ads';

interface Warming<T> {
  config: T;
  version: string;
  /** When this version started warming: its last_updated in /config_dump. */
  since: Date;
  /** performance.now() at which initial_fetch_timeout gives up waiting (Infinity: never). */
  deadline: number;
  /** Called when the deadline passes first. */
  timeout: () => void;
}

export interface WarmingView<T> {
  config: T;
  versionInfo: string;
  lastUpdated: Date;
}

export class XdsManager {
  /** The ADS stream, when dynamic_resources.ads_config is set (and not relayed). */
  readonly client: AdsClient | null;
  /** One source per file named by a path_config_source. */
  private readonly files = new Map<string, FileSource>();
  /** Last ClusterLoadAssignment per EDS service name: a replaced cluster starts from it. */
  private readonly assignments = new Map<string, ClusterLoadAssignmentConfig>();
  /** Per named type (EDS, RDS): source key → the names subscribed there. */
  private readonly named = new Map<string, Map<string, string[]>>();
  private readonly pendingBinds = new Set<Promise<void>>();
  /** Listeners from LDS in service (bound or binding), for the RDS names they follow. */
  private readonly activeListeners = new Map<string, ListenerConfig>();
  /**
   * Warming (Envoy's cluster and listener warming): a new EDS cluster is not used until its
   * endpoints arrive, and a new or changed listener is not bound until the route tables it
   * names arrive — or until initial_fetch_timeout passes, after which they go live anyway.
   */
  private readonly warmingClusters = new Map<string, Warming<ClusterConfig>>();
  private readonly warmingListeners = new Map<string, Warming<ListenerConfig>>();
  /**
   * canonKey of each cluster and listener resource in service or warming, by name: one resent
   * unchanged (every SotW push resends every cluster and listener) is left as it is, as Envoy
   * leaves a resource whose hash did not change. A cluster keeps its pools, health and outlier
   * state, load-balancer state and DNS answers; a listener keeps its connections (an update
   * drains them).
   */
  private readonly clusterKeys = new Map<string, string>();
  private readonly listenerKeys = new Map<string, string>();

  /**
   * `relay`: every type comes from this one source instead (a worker process that applies
   * what the primary's ADS client and files accepted, src/workers.ts).
   */
  constructor(
    private readonly server: SwitchyardServer,
    private readonly cfg: DynamicResourcesConfig,
    node: NodeInfo,
    private readonly relay?: RelaySource,
  ) {
    this.client = cfg.ads && !relay ? new AdsClient({ target: cfg.ads.target, api: cfg.ads.api, node }) : null;
    if (relay) for (const [t, h] of [[TYPE_URLS.CDS, this.cds], [TYPE_URLS.EDS, this.eds], [TYPE_URLS.RDS, this.rds], [TYPE_URLS.LDS, this.lds]] as const) relay.bind(t, h);
  }

  /**
   * Called with every update a handler is given, before it applies it: the primary process
   * forwards them to its workers (src/xds/relay.ts). Handlers are synchronous, so the
   * order of calls is the order of application.
   */
  onUpdate: ((typeUrl: string, u: ResourceUpdate) => void) | null = null;

  /** Everything accepted so far, as updates that rebuild this state in an empty manager. */
  snapshot(): WireUpdate[] {
    return snapshotUpdates(this.configDump(), [TYPE_URLS.CDS, TYPE_URLS.EDS, TYPE_URLS.RDS, TYPE_URLS.LDS]);
  }

  /** Where resources of a config source come from: the relay, a file, or the ADS stream (null: no ads_config). */
  private sourceFor(path: PathSourceSpec | undefined): XdsSource | null {
    if (this.relay) return this.relay;
    if (path === undefined) return this.client;
    let f = this.files.get(path.path);
    if (f === undefined) this.files.set(path.path, (f = new FileSource(path)));
    return f;
  }

  /**
   * Subscribes and waits for the initial fetch (Envoy's initialization: clusters and their
   * endpoints first, then listeners and their routes), each bounded by initial_fetch_timeout.
   */
  async start(): Promise<void> {
    const opts = { initialFetchTimeoutMs: this.cfg.initialFetchTimeoutMs };
    // Static EDS clusters and static listeners' RDS route tables subscribe first.
    this.resubscribeEds();
    if (this.cfg.cds) {
      const src = this.sourceFor(this.cfg.cdsPath)!;
      src.watch(TYPE_URLS.CDS, '*', this.cds, opts);
      await src.ready(TYPE_URLS.CDS);
    }
    await this.namedReady(TYPE_URLS.EDS);
    this.resubscribeRds();
    if (this.cfg.lds) {
      const src = this.sourceFor(this.cfg.ldsPath)!;
      src.watch(TYPE_URLS.LDS, '*', this.lds, opts);
      await src.ready(TYPE_URLS.LDS);
    }
    await this.namedReady(TYPE_URLS.RDS);
    await Promise.all([...this.pendingBinds]);
    log.info('xds initial fetch done', { clusters: this.server.clusterManager.all().length });
  }

  /** Waits for the first response of every source a named type (EDS, RDS) is subscribed at. */
  private async namedReady(type: string): Promise<void> {
    const keys = [...(this.named.get(type)?.keys() ?? [])];
    await Promise.all(keys.map((k) => this.sourceByKey(k)?.ready(type)));
  }

  private sourceByKey(key: string): XdsSource | null {
    if (this.relay) return this.relay;
    return key === ADS_KEY ? this.client : this.files.get(key) ?? null;
  }

  async close(): Promise<void> {
    await this.client?.close();
    for (const f of this.files.values()) await f.close();
  }

  /** Per type: what the ADS stream and the files hold, merged, for /config_dump. */
  configDump(): TypeDump[] {
    const all = [...(this.client?.configDump() ?? []), ...[...this.files.values()].flatMap((f) => f.configDump()), ...(this.relay?.configDump() ?? [])];
    const byType = new Map<string, TypeDump>();
    for (const t of all) {
      const cur = byType.get(t.type_url);
      if (cur === undefined) byType.set(t.type_url, t);
      else {
        const names = new Set(cur.resources.map((r) => r.name));
        byType.set(t.type_url, {
          ...cur,
          version_info: cur.version_info || t.version_info,
          subscribed: [...new Set([...cur.subscribed, ...t.subscribed])].sort(),
          resources: [...cur.resources, ...t.resources.filter((r) => !names.has(r.name))],
        });
      }
    }
    return [...byType.values()];
  }

  /** A resource naming `ads: {}` when there is no ADS stream: rejected, as Envoy does. */
  private noAds(): string | undefined {
    return this.client === null && !this.relay ? 'ADS must be configured to support an ADS config source (dynamic_resources.ads_config)' : undefined;
  }

  private readonly cds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      this.onUpdate?.(TYPE_URLS.CDS, u);
      const errors = new Map<string, string>();
      const cm = this.server.clusterManager;
      for (const [name, r] of u.added) {
        const key = canonKey(r.resource);
        if (this.clusterKeys.get(name) === key && (cm.get(name) !== undefined || this.warmingClusters.has(name))) continue;
        const d = decodeClusterResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        const eds = edsName(d.value)[0];
        const noAds = eds !== undefined && d.value.edsPath === undefined ? this.noAds() : undefined;
        if (noAds !== undefined) {
          errors.set(name, `eds_cluster_config.eds_config.ads: ${noAds}`);
          continue;
        }
        this.clusterKeys.set(name, key);
        if (eds !== undefined && !this.assignments.has(eds) && cm.get(name) === undefined) {
          this.warmCluster(d.value, r.version);
          continue;
        }
        this.activateCluster(d.value, r.version);
      }
      for (const name of u.removed) {
        this.endWarming(this.warmingClusters, name);
        this.clusterKeys.delete(name);
        cm.remove(name);
      }
      this.resubscribeEds();
      return errors;
    },
  };

  /** Puts a cluster in service; an EDS one starts from the last assignment seen for it. */
  private activateCluster(config: ClusterConfig, version: string): void {
    this.endWarming(this.warmingClusters, config.name);
    const c = this.server.clusterManager.addOrUpdate(config, true);
    c.versionInfo = version;
    const eds = edsName(config)[0];
    const known = eds === undefined ? undefined : this.assignments.get(eds);
    if (known !== undefined) c.setEndpoints(known.localities, known.overprovisioningFactor);
  }

  private warmCluster(config: ClusterConfig, version: string): void {
    this.warm(this.warmingClusters, config, version, 'cluster warming timed out; using it without endpoints', () => this.activateCluster(config, version));
  }

  /** Holds a resource until what it waits for arrives, or until initial_fetch_timeout. */
  private warm<T extends { name: string }>(
    m: Map<string, Warming<T>>,
    config: T,
    version: string,
    timeoutMessage: string,
    activate: () => void,
  ): void {
    this.endWarming(m, config.name);
    const ms = this.cfg.initialFetchTimeoutMs;
    const timeout = (): void => {
      log.warn(timeoutMessage, { name: config.name });
      activate();
    };
    // Re-inserted at the end: with one timeout value for all, each map stays in deadline order.
    m.set(config.name, { config, version, since: new Date(), deadline: ms > 0 ? performance.now() + ms : Infinity, timeout });
    if (ms > 0) this.armWarmingTimer(ms);
  }

  /**
   * One timer for every warming resource (a 5,000-cluster push warms 5,000 clusters; a timer
   * each was measurable): it fires at the earliest deadline, times out what is due, re-arms.
   */
  private warmingTimer: NodeJS.Timeout | null = null;
  private warmingTimerAt = Infinity;

  private armWarmingTimer(inMs: number): void {
    const at = performance.now() + inMs;
    if (this.warmingTimer !== null && this.warmingTimerAt <= at) return;
    if (this.warmingTimer !== null) clearTimeout(this.warmingTimer);
    this.warmingTimerAt = at;
    this.warmingTimer = setTimeout(() => this.warmingTimeouts(), Math.max(0, inMs));
    this.warmingTimer.unref();
  }

  private warmingTimeouts(): void {
    this.warmingTimer = null;
    this.warmingTimerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const m of [this.warmingClusters, this.warmingListeners] as Map<string, Warming<unknown>>[]) {
      const due: Warming<unknown>[] = [];
      for (const w of m.values()) {
        if (w.deadline > now) {
          next = Math.min(next, w.deadline);
          break;
        }
        due.push(w);
      }
      for (const w of due) {
        m.delete((w.config as { name: string }).name);
        w.timeout();
      }
    }
    if (next !== Infinity) this.armWarmingTimer(next - now);
  }

  private endWarming(m: Map<string, unknown>, name: string): void {
    m.delete(name);
  }

  /** Clusters and listeners still warming, for /config_dump's dynamic_warming_* entries. */
  warming(): { clusters: WarmingView<ClusterConfig>[]; listeners: WarmingView<ListenerConfig>[] } {
    const view = <T>(w: Warming<T>): WarmingView<T> => ({ config: w.config, versionInfo: w.version, lastUpdated: w.since });
    return {
      clusters: [...this.warmingClusters.values()].map(view),
      listeners: [...this.warmingListeners.values()].map(view),
    };
  }

  private resubscribeEds(): void {
    const configs = [...this.server.clusterManager.all().map((c) => c.config), ...[...this.warmingClusters.values()].map((w) => w.config)];
    this.resubscribeNamed(TYPE_URLS.EDS, configs.flatMap((c) => edsName(c).map((name) => ({ name, path: c.edsPath }))), this.eds);
  }

  /**
   * Keeps the named watches of a type (EDS, RDS) equal to the names in use, per source:
   * watch on the first name, update on a change, unwatch when none is left.
   */
  private resubscribeNamed(type: string, wanted: Array<{ name: string; path?: PathSourceSpec }>, handler: WatchHandler): void {
    let cur = this.named.get(type);
    if (cur === undefined) this.named.set(type, (cur = new Map()));
    const bySource = new Map<string, string[]>();
    for (const w of wanted) {
      const key = w.path ? w.path.path : ADS_KEY;
      if (this.sourceFor(w.path) === null) continue;
      push(bySource, key, w.name);
    }
    for (const [key, names] of bySource) cur.set(key, this.resubscribe(this.sourceFor(key === ADS_KEY ? undefined : { kind: 'path', path: key })!, type, names, cur.get(key) ?? [], handler));
    for (const [key, names] of [...cur]) {
      if (bySource.has(key)) continue;
      const src = this.sourceByKey(key);
      if (src) this.resubscribe(src, type, [], names, handler);
      cur.delete(key);
    }
  }

  /** One source's named watch; returns the names now subscribed there. */
  private resubscribe(src: XdsSource, type: string, wanted: string[], current: string[], handler: WatchHandler): string[] {
    const names = [...new Set(wanted)].sort();
    if (sameList(names, current)) return current;
    if (current.length === 0 && names.length > 0) src.watch(type, names, handler, { initialFetchTimeoutMs: this.cfg.initialFetchTimeoutMs });
    else if (names.length > 0) src.updateWatch(type, names);
    else src.unwatch(type);
    return names;
  }

  private readonly eds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      this.onUpdate?.(TYPE_URLS.EDS, u);
      const errors = new Map<string, string>();
      // Index clusters by EDS service name once per response (not once per assignment:
      // 5,000 assignments × 5,000 clusters was measured as the cost of a large push).
      const active = new Map<string, Cluster[]>();
      for (const c of this.server.clusterManager.all()) for (const n of edsName(c.config)) push(active, n, c);
      const warming = new Map<string, ClusterConfig[]>();
      for (const w of this.warmingClusters.values()) for (const n of edsName(w.config)) push(warming, n, w.config);
      for (const [name, r] of u.added) {
        const d = decodeClusterLoadAssignmentResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        this.assignments.set(name, d.value);
        // Endpoints change in place: pooled connections to hosts that remain are kept.
        for (const c of active.get(name) ?? []) c.setEndpoints(d.value.localities, d.value.overprovisioningFactor);
        for (const c of warming.get(name) ?? []) {
          const w = this.warmingClusters.get(c.name);
          if (w !== undefined) this.activateCluster(w.config, w.version);
        }
      }
      for (const name of u.removed) {
        this.assignments.delete(name);
        for (const c of active.get(name) ?? []) c.setEndpoints([]);
      }
      return errors;
    },
  };

  private readonly lds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      this.onUpdate?.(TYPE_URLS.LDS, u);
      const errors = new Map<string, string>();
      for (const [name, r] of u.added) {
        const key = canonKey(r.resource);
        if (this.listenerKeys.get(name) === key && (this.activeListeners.has(name) || this.warmingListeners.has(name))) continue;
        const d = decodeListenerResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        const noAds = rdsRefsOf(d.value).some((x) => x.path === undefined) ? this.noAds() : undefined;
        if (noAds !== undefined) {
          errors.set(name, `rds.config_source.ads: ${noAds}`);
          continue;
        }
        if (rdsNamesOf(d.value).some((n) => this.server.routes.get(n) === null)) this.warmListener(d.value, r.version);
        else {
          const err = this.activateListener(d.value, r.version);
          if (err !== undefined) {
            errors.set(name, err);
            continue;
          }
        }
        this.listenerKeys.set(name, key);
      }
      for (const name of u.removed) {
        this.endWarming(this.warmingListeners, name);
        this.listenerKeys.delete(name);
        this.activeListeners.delete(name);
        this.server.removeListener(name);
      }
      this.resubscribeRds();
      return errors;
    },
  };

  /** Binds (or swaps in) a listener; returns an error message when it cannot be built. */
  private activateListener(config: ListenerConfig, version: string): string | undefined {
    this.endWarming(this.warmingListeners, config.name);
    let p: Promise<void>;
    try {
      p = this.server.addOrUpdateListener(config, version);
    } catch (e) {
      return (e as Error).message;
    }
    this.activeListeners.set(config.name, config);
    // Binding is asynchronous: a port that cannot be bound is logged (the response is
    // already answered by then).
    const tracked = p.catch((e: Error) => {
      log.error('cannot bind listener from xds', { name: config.name, error: e.message });
      // The same listener sent again is then tried again, not skipped as unchanged.
      if (this.activeListeners.get(config.name) === config) this.listenerKeys.delete(config.name);
    });
    this.pendingBinds.add(tracked);
    void tracked.finally(() => this.pendingBinds.delete(tracked));
    return undefined;
  }

  private warmListener(config: ListenerConfig, version: string): void {
    this.warm(this.warmingListeners, config, version, 'listener warming timed out; binding it without its routes', () => this.activateListener(config, version));
  }

  /** RDS follows the route tables that active (static or dynamic) and warming listeners name. */
  private resubscribeRds(): void {
    const configs = [...this.server.bootstrap.listeners, ...this.activeListeners.values(), ...[...this.warmingListeners.values()].map((w) => w.config)];
    this.resubscribeNamed(TYPE_URLS.RDS, configs.flatMap(rdsRefsOf), this.rds);
  }

  private readonly rds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      this.onUpdate?.(TYPE_URLS.RDS, u);
      const errors = new Map<string, string>();
      for (const [name, r] of u.added) {
        const d = decodeRouteConfigurationResource(r.resource, name);
        if ('error' in d) errors.set(name, d.error);
        // A route table swap needs no drain: requests already routed keep their route.
        else this.server.routes.set(name, d.value, r.version);
      }
      for (const name of u.removed) this.server.routes.delete(name);
      // Listeners whose route tables have all arrived stop warming.
      for (const w of [...this.warmingListeners.values()]) {
        if (rdsNamesOf(w.config).every((n) => this.server.routes.get(n) !== null)) this.activateListener(w.config, w.version);
      }
      this.resubscribeRds();
      return errors;
    },
  };
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** The RDS route configurations a listener's connection managers follow, with where they come from. */
function rdsRefsOf(l: ListenerConfig): Array<{ name: string; path?: PathSourceSpec }> {
  const out: Array<{ name: string; path?: PathSourceSpec }> = [];
  for (const fc of l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains) {
    for (const f of fc.filters) {
      const rds = f.typeUrl === HCM_TYPE ? (f.config as HcmConfig).rds : undefined;
      if (rds !== undefined) out.push({ name: rds.routeConfigName, path: rds.path });
    }
  }
  return out;
}

function rdsNamesOf(l: ListenerConfig): string[] {
  return rdsRefsOf(l).map((r) => r.name);
}

/** Whether a bootstrap's static resources read anything from files (then the manager runs without dynamic_resources). */
export function staticUsesFiles(clusters: readonly ClusterConfig[], listeners: readonly ListenerConfig[]): boolean {
  return clusters.some((c) => c.edsPath !== undefined) || listeners.some((l) => rdsRefsOf(l).some((r) => r.path !== undefined));
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [v]);
  else l.push(v);
}

function edsName(c: ClusterConfig): string[] {
  return c.type === 'EDS' ? [c.edsServiceName ?? c.name] : [];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
