// Applies what the ADS stream delivers to the running proxy: clusters (CDS) and their
// endpoints (EDS) to the cluster manager, listeners (LDS) to the server, route tables
// (RDS) to the registry the connection managers follow. Each resource is decoded and
// validated on its own; a bad one is NACKed with its path while the good ones of the same
// response apply and the last good version keeps serving (gRFC A46).
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
import type { ClusterConfig, DynamicResourcesConfig, LocalityEndpoints, NodeInfo } from '../config/types';
import { log } from '../log';
import type { SwitchyardServer } from '../server';
import { AdsClient } from './client/ads_client';
import { TYPE_URLS, type ResourceUpdate, type WatchHandler } from './client/types';
import {
  decodeClusterLoadAssignmentResource,
  decodeClusterResource,
  decodeListenerResource,
  decodeRouteConfigurationResource,
} from './resources/decode_resource';

export class XdsManager {
  readonly client: AdsClient;
  /** Last ClusterLoadAssignment per EDS service name: a replaced cluster starts from it. */
  private readonly assignments = new Map<string, LocalityEndpoints[]>();
  private edsNames: string[] = [];
  private rdsNames: string[] = [];
  private readonly pendingBinds = new Set<Promise<void>>();

  constructor(
    private readonly server: SwitchyardServer,
    private readonly cfg: DynamicResourcesConfig,
    node: NodeInfo,
  ) {
    this.client = new AdsClient({ target: cfg.ads.target, api: cfg.ads.api, node });
  }

  /**
   * Subscribes and waits for the initial fetch (Envoy's initialization: clusters and their
   * endpoints first, then listeners and their routes), each bounded by initial_fetch_timeout.
   */
  async start(): Promise<void> {
    const opts = { initialFetchTimeoutMs: this.cfg.initialFetchTimeoutMs };
    if (this.cfg.cds) {
      this.client.watch(TYPE_URLS.CDS, '*', this.cds, opts);
      await this.client.ready(TYPE_URLS.CDS);
      if (this.edsNames.length > 0) await this.client.ready(TYPE_URLS.EDS);
    }
    if (this.cfg.lds) {
      this.client.watch(TYPE_URLS.LDS, '*', this.lds, opts);
      await this.client.ready(TYPE_URLS.LDS);
      if (this.rdsNames.length > 0) await this.client.ready(TYPE_URLS.RDS);
      await Promise.all([...this.pendingBinds]);
    }
    log.info('xds initial fetch done', { clusters: this.server.clusterManager.all().length });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private readonly cds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      const errors = new Map<string, string>();
      const cm = this.server.clusterManager;
      for (const [name, r] of u.added) {
        const d = decodeClusterResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        const c = cm.addOrUpdate(d.value, true);
        c.versionInfo = r.version;
        const eds = d.value.edsServiceName;
        if (d.value.type === 'EDS' && eds !== undefined) {
          const known = this.assignments.get(eds);
          if (known !== undefined) c.setEndpoints(known);
        }
      }
      for (const name of u.removed) cm.remove(name);
      this.resubscribeEds();
      return errors;
    },
  };

  private resubscribeEds(): void {
    const names = [...new Set(this.server.clusterManager.all().flatMap((c) => edsName(c.config)))].sort();
    if (sameList(names, this.edsNames)) return;
    const first = this.edsNames.length === 0;
    this.edsNames = names;
    if (first && names.length > 0) this.client.watch(TYPE_URLS.EDS, names, this.eds, { initialFetchTimeoutMs: this.cfg.initialFetchTimeoutMs });
    else if (names.length > 0) this.client.updateWatch(TYPE_URLS.EDS, names);
    else this.client.unwatch(TYPE_URLS.EDS);
  }

  private readonly eds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      const errors = new Map<string, string>();
      for (const [name, r] of u.added) {
        const d = decodeClusterLoadAssignmentResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        this.assignments.set(name, d.value.localities);
        // Endpoints change in place: pooled connections to hosts that remain are kept.
        for (const c of this.server.clusterManager.all()) if (edsName(c.config).includes(name)) c.setEndpoints(d.value.localities);
      }
      for (const name of u.removed) {
        this.assignments.delete(name);
        for (const c of this.server.clusterManager.all()) if (edsName(c.config).includes(name)) c.setEndpoints([]);
      }
      return errors;
    },
  };

  private readonly lds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      const errors = new Map<string, string>();
      for (const [name, r] of u.added) {
        const d = decodeListenerResource(r.resource, name);
        if ('error' in d) {
          errors.set(name, d.error);
          continue;
        }
        let p: Promise<void>;
        try {
          p = this.server.addOrUpdateListener(d.value, r.version);
        } catch (e) {
          errors.set(name, (e as Error).message);
          continue;
        }
        // Binding is asynchronous: a port that cannot be bound is logged (the response is
        // already answered by then).
        const tracked = p.catch((e: Error) => log.error('cannot bind listener from xds', { name, error: e.message }));
        this.pendingBinds.add(tracked);
        void tracked.finally(() => this.pendingBinds.delete(tracked));
      }
      for (const name of u.removed) this.server.removeListener(name);
      this.resubscribeRds();
      return errors;
    },
  };

  private resubscribeRds(): void {
    const names = this.server.routes.watchedNames().sort();
    if (sameList(names, this.rdsNames)) return;
    const first = this.rdsNames.length === 0;
    this.rdsNames = names;
    if (first && names.length > 0) this.client.watch(TYPE_URLS.RDS, names, this.rds, { initialFetchTimeoutMs: this.cfg.initialFetchTimeoutMs });
    else if (names.length > 0) this.client.updateWatch(TYPE_URLS.RDS, names);
    else this.client.unwatch(TYPE_URLS.RDS);
  }

  private readonly rds: WatchHandler = {
    apply: (u: ResourceUpdate) => {
      const errors = new Map<string, string>();
      for (const [name, r] of u.added) {
        const d = decodeRouteConfigurationResource(r.resource, name);
        if ('error' in d) errors.set(name, d.error);
        // A route table swap needs no drain: requests already routed keep their route.
        else this.server.routes.set(name, d.value, r.version);
      }
      for (const name of u.removed) this.server.routes.delete(name);
      return errors;
    },
  };
}

function edsName(c: ClusterConfig): string[] {
  return c.type === 'EDS' ? [c.edsServiceName ?? c.name] : [];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
