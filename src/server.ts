// The running sidecar: clusters, listeners and the admin API built from a bootstrap, and
// the lifecycle (start, drain, exit). Implements the AdminHost view the admin renders.
import { isIPv4 } from 'node:net';
import type { AdminHost, ClusterView, ListenerView, RouteConfigView, ServerState, WarmingViews, XdsDumpView } from './admin/host';
import { startAdmin, type AdminServer } from './admin/server';
import type { BootstrapConfig, ListenerConfig } from './config/types';
import type { RuntimeContext } from './listeners/terminal';
import { RouteTableRegistry } from './routing/registry';
import { XdsManager, staticUsesFiles } from './xds/manager';
import { DEFAULT_INITIAL_FETCH_TIMEOUT_MS } from './xds/resources/config_source';
import type { RelaySource } from './xds/relay';
import type { ResourceUpdate } from './xds/client/types';
import { ActiveListener } from './listeners/listener';
import { log, type Level } from './log';
import { StatsStore } from './telemetry/stats';
import type { SharedState } from './upstream/cluster';
import { ClusterManager } from './upstream/cluster_manager';
import './upstream/h2_pool';

export interface ServerOptions {
  drainTimeS: number;
  commandLine: Record<string, unknown>;
  /** False in worker processes: with --concurrency > 1 the primary serves the admin API. */
  admin?: boolean;
  /**
   * False in the primary with --concurrency > 1: it holds the config (for the admin API and
   * to run the one xDS stream) while the workers bind the listeners and carry the traffic.
   */
  bindListeners?: boolean;
  /** In a worker with --concurrency > 1: xDS updates come from the primary through this. */
  xdsRelay?: RelaySource;
  /** In the primary with --concurrency > 1: every xDS update applied, to send to the workers. */
  onXdsUpdate?: (typeUrl: string, u: ResourceUpdate) => void;
  /** With --concurrency > 1: the primary resolves and checks hosts and publishes, the workers follow (SharedState). */
  shared?: SharedState;
}

export class SwitchyardServer implements AdminHost {
  readonly stats = new StatsStore();
  readonly startTime = new Date();
  readonly clusterManager = new ClusterManager(this.stats);
  readonly routes = new RouteTableRegistry();
  private readonly ctx: RuntimeContext = {
    clusters: this.clusterManager,
    store: this.stats,
    routes: this.routes,
    listeners: { findForHandoff: (ip, port) => this.findForHandoff(ip, port) },
  };
  private readonly listenerList: ActiveListener[] = [];
  private xds: XdsManager | null = null;
  private st: ServerState = 'PRE_INITIALIZING';
  healthCheckFailed = false;
  private admin: AdminServer | null = null;
  private exiting = false;

  constructor(
    readonly bootstrap: BootstrapConfig,
    private readonly opts: ServerOptions,
  ) {
    if (opts.shared !== undefined) this.clusterManager.shared = opts.shared;
  }

  async start(): Promise<void> {
    this.st = 'INITIALIZING';
    for (const c of this.bootstrap.clusters) this.clusterManager.addOrUpdate(c);
    if (this.bootstrap.admin && this.opts.admin !== false) {
      this.admin = await startAdmin(this, { address: this.bootstrap.admin.address.address, port: this.bootstrap.admin.address.port });
      log.info('admin up', { address: `${this.bootstrap.admin.address.address}:${this.admin.port}` });
    }
    for (const l of this.bootstrap.listeners) {
      const al = new ActiveListener(l, this.ctx);
      if (this.opts.bindListeners !== false) await al.listen();
      this.listenerList.push(al);
    }
    // Static resources may read EDS / RDS from files with no dynamic_resources at all.
    const dynamic = this.bootstrap.dynamic ?? (staticUsesFiles(this.bootstrap.clusters, this.bootstrap.listeners)
      ? { lds: false, cds: false, initialFetchTimeoutMs: DEFAULT_INITIAL_FETCH_TIMEOUT_MS }
      : undefined);
    if (dynamic !== undefined) {
      // /ready stays 503 (INITIALIZING) until the first xDS fetch is applied or times out.
      this.xds = new XdsManager(this, dynamic, this.bootstrap.node, this.opts.xdsRelay);
      this.xds.onUpdate = this.opts.onXdsUpdate ?? null;
      await this.xds.start();
    }
    // Envoy finishes a cluster's initialization only after a DNS cluster's first answer and the
    // first round of active health checks, so traffic does not meet a cluster with no hosts
    // yet, nor hosts that are still marked failed.
    await Promise.all(this.clusterManager.all().map((c) => c.initialized()));
    this.st = 'LIVE';
    log.info('switchyard is live', { listeners: this.listenerList.length, clusters: this.clusterManager.all().length });
  }

  /** LDS: a new listener is bound; a changed one keeps its socket and swaps its chains (the old ones drain). */
  async addOrUpdateListener(config: ListenerConfig, versionInfo: string): Promise<void> {
    const cur = this.listenerList.find((l) => l.name === config.name);
    if (cur !== undefined && sameAddress(cur.config, config)) {
      cur.update(config, this.opts.drainTimeS * 1000, versionInfo);
      log.info('listener updated', { name: config.name, version: versionInfo });
      return;
    }
    if (cur !== undefined) this.removeListener(config.name);
    const al = new ActiveListener(config, this.ctx, true);
    al.versionInfo = versionInfo;
    if (this.opts.bindListeners !== false) await al.listen();
    this.listenerList.push(al);
  }

  /** LDS removal: stop accepting, drain for --drain-time-s, then close what is left. */
  removeListener(name: string): void {
    const i = this.listenerList.findIndex((l) => l.name === name);
    if (i === -1) return;
    const [l] = this.listenerList.splice(i, 1);
    l.drain();
    setTimeout(() => l.close(), this.opts.drainTimeS * 1000).unref();
    log.info('listener removed', { name });
  }

  /**
   * use_original_dst: the listener for a redirected connection's original destination —
   * the one bound to exactly that address and port, else a wildcard one on that port (same
   * address family first; `::` also takes IPv4, as Node's dual-stack sockets do).
   */
  findForHandoff(ip: string, port: number): ActiveListener | undefined {
    let wild4: ActiveListener | undefined;
    let wild6: ActiveListener | undefined;
    for (const l of this.listenerList) {
      const a = l.config.address;
      if (a.port !== port) continue;
      if (a.address === ip) return l;
      if (a.address === '0.0.0.0') wild4 ??= l;
      else if (a.address === '::') wild6 ??= l;
    }
    return isIPv4(ip) ? (wild4 ?? wild6) : wild6;
  }

  hasListener(name: string): boolean {
    return this.listenerList.some((l) => l.name === name);
  }

  get adminPort(): number {
    return this.admin?.port ?? 0;
  }

  state(): ServerState {
    return this.st;
  }

  listeners(): ListenerView[] {
    return this.listenerList.map((l) => ({ config: l.config, boundAddress: l.boundAddress, addedViaApi: l.addedViaApi, lastUpdated: l.lastUpdated, versionInfo: l.versionInfo }));
  }

  clusters(): ClusterView[] {
    return this.clusterManager.all().map((c) => ({ config: c.config, hosts: c.hosts, addedViaApi: c.addedViaApi, lastUpdated: c.lastUpdated, versionInfo: c.versionInfo }));
  }

  /** The xDS manager (null without dynamic_resources, or before start() reaches it). */
  get xdsManager(): XdsManager | null {
    return this.xds;
  }

  xdsDump(): XdsDumpView | undefined {
    if (this.xds === null) return undefined;
    const types = this.xds.configDump();
    const versionInfo: Record<string, string> = {};
    for (const t of types) versionInfo[t.type_url] = t.version_info;
    return { versionInfo, types };
  }

  warming(): WarmingViews {
    return this.xds?.warming() ?? { clusters: [], listeners: [] };
  }

  routeConfigs(): RouteConfigView[] {
    return this.routes.entries().map((e) => ({ name: e.name, raw: e.table.raw, version: e.version, lastUpdated: e.lastUpdated }));
  }

  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }): void {
    for (const l of this.listenerList) {
      if (opts.inboundOnly && l.config.raw.traffic_direction !== 'INBOUND') continue;
      if (opts.graceful) l.drain();
      else l.stopAccepting();
    }
  }

  quit(): void {
    void this.shutdown('quitquitquit');
  }

  setLogLevel(level: Level): void {
    log.setLevel(level);
  }

  commandLineOptions(): Record<string, unknown> {
    return this.opts.commandLine;
  }

  /**
   * Graceful shutdown (SIGTERM, /quitquitquit): stop accepting, let in-flight requests
   * finish — HTTP/1.1 responses carry `Connection: close`, HTTP/2 gets GOAWAY — for up to
   * --drain-time-s, then exit 0.
   */
  async shutdown(why: string): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    this.st = 'DRAINING';
    log.info('draining', { reason: why, drain_time_s: this.opts.drainTimeS });
    for (const l of this.listenerList) l.drain();
    const deadline = Date.now() + this.opts.drainTimeS * 1000;
    while (Date.now() < deadline) {
      let active = 0;
      for (const l of this.listenerList) active += l.activeConnections;
      if (active === 0) break;
      await sleep(50);
    }
    for (const l of this.listenerList) l.close();
    await this.xds?.close();
    this.clusterManager.destroy();
    await this.admin?.close();
    log.info('exiting');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sameAddress(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.address.address === b.address.address && a.address.port === b.address.port;
}
