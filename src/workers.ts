// --concurrency N: N worker processes share the listeners through node:cluster (Node 20
// has no SO_REUSEPORT for net.Server). Each worker is a whole proxy; the primary owns the
// admin API and asks every worker for its stats and host counters when the admin is
// read, so /stats and /clusters show the sum, as Envoy's (per-thread) stats do.
//
// xDS behaves as in one Envoy: the primary holds the config in a SwitchyardServer that
// binds nothing (the "config server") and runs the one ADS stream and the file watches;
// every update it applies is sent to the workers, which apply it with the same handlers
// (src/xds/relay.ts). A worker that starts, or restarts after a crash, first gets a
// snapshot of everything accepted so far. /config_dump, /clusters, /listeners and /ready
// in the primary come from the config server (host counters summed from the workers).
//
// DNS resolution, active health checks and outlier detection, likewise, run once: in the
// config server's clusters, whose every answer and verdict goes to the workers; the workers
// resolve nothing, run no checks and send their requests' results to the primary's detectors
// (src/upstream/dns/, health/ and outlier/across_workers.ts).
import cluster, { type Worker } from 'node:cluster';
import type { AdminHost, ClusterView, ListenerView, RouteConfigView, ServerState, WarmingViews, XdsDumpView } from './admin/host';
import { startAdmin, type AdminServer } from './admin/server';
import type { BootstrapConfig } from './config/types';
import { log, type Level } from './log';
import { SwitchyardServer, type ServerOptions } from './server';
import { StatsStore } from './telemetry/stats';
import { DnsFollowers, type DnsReport } from './upstream/dns/across_workers';
import { HealthFollowers, type HealthReport } from './upstream/health/across_workers';
import type { OutlierEvents } from './upstream/outlier/across_workers';
import { Host, HostStats } from './upstream/host';
import { RelaySource, toWire, type WireUpdate } from './xds/relay';

type ToWorker =
  | { t: 'snapshot'; id: number }
  | { t: 'shutdown' }
  | { t: 'drain'; inboundOnly: boolean; graceful: boolean }
  | { t: 'log'; level: Level }
  | { t: 'xds'; updates: WireUpdate[]; initial: boolean }
  | { t: 'health'; reports: HealthReport[] }
  | { t: 'dns'; reports: DnsReport[] };
interface Snapshot {
  stats: Array<{ name: string; value: number; kind: 'counter' | 'gauge' }>;
  hosts: Record<string, Array<{ key: string; address: string; port: number; stats: HostStats; healthFlags: number }>>;
  listeners: Record<string, string>;
}
type FromWorker =
  | { t: 'hello' }
  | { t: 'ready'; listeners: Record<string, string> }
  | { t: 'snapshot'; id: number; snap: Snapshot }
  | { t: 'traffic'; cluster: string }
  | { t: 'outlier'; cluster: string; events: OutlierEvents };

/** A cluster's host-set stats: every worker holds the same hosts and sees the same updates. */
const PER_CLUSTER_ONCE = /^cluster\..+\.(membership_(total|healthy|change)|update_no_rebuild)$/;

/** In a worker: run the proxy and answer the primary. */
export async function runWorker(bootstrap: BootstrapConfig, opts: ServerOptions): Promise<void> {
  log.tag = `worker ${cluster.worker?.id ?? '?'}`;
  const relay = new RelaySource();
  const send = (m: FromWorker) => process.send!(m);
  // DNS resolution, active health checks and outlier detection run in the primary; this
  // worker's clusters take its answers and verdicts and send it their traffic and their
  // outlier results.
  const followers = new HealthFollowers({
    traffic: (cluster) => send({ t: 'traffic', cluster }),
    outliers: (cluster, events) => send({ t: 'outlier', cluster, events }),
  });
  const dnsFollowers = new DnsFollowers();
  const server = new SwitchyardServer(bootstrap, { ...opts, admin: false, xdsRelay: relay, shared: { followers, dnsFollowers } });
  const bound = () => Object.fromEntries(server.listeners().map((l) => [l.config.name, l.boundAddress]));
  process.on('message', (m: ToWorker) => {
    if (m.t === 'snapshot') {
      const hosts: Snapshot['hosts'] = {};
      for (const c of server.clusters()) {
        hosts[c.config.name] = c.hosts.map((h) => ({ key: h.key, address: h.address, port: h.port, stats: h.stats, healthFlags: h.healthFlags }));
      }
      send({ t: 'snapshot', id: m.id, snap: { stats: server.stats.snapshot(), hosts, listeners: bound() } });
    } else if (m.t === 'shutdown') void server.shutdown('primary').then(() => process.exit(0));
    else if (m.t === 'drain') server.drainListeners(m);
    else if (m.t === 'log') log.setLevel(m.level);
    else if (m.t === 'xds') relay.deliver(m.updates, m.initial);
    else if (m.t === 'health') for (const r of m.reports) followers.deliver(r);
    else if (m.t === 'dns') for (const r of m.reports) dnsFollowers.deliver(r);
  });
  // The primary does the draining on SIGTERM; a worker signalled on its own drains too.
  process.on('SIGTERM', () => void server.shutdown('SIGTERM').then(() => process.exit(0)));
  process.on('SIGINT', () => {});
  // The primary answers hello with the xDS snapshot once its initial fetch is done; start()
  // waits for it (RelaySource.ready) before the worker says it is ready.
  send({ t: 'hello' });
  await server.start();
  send({ t: 'ready', listeners: bound() });
}

/** In the primary: fork the workers, serve the admin API, coordinate drain and exit. */
export async function runPrimary(bootstrap: BootstrapConfig, n: number, opts: ServerOptions): Promise<void> {
  const host = new PrimaryHost(bootstrap, opts);
  // Each worker accepts on the shared socket itself, as Envoy's worker threads do.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  // xDS updates carry Maps and bytes: the structured-clone channel keeps them.
  cluster.setupPrimary({ serialization: 'advanced' });
  for (let i = 0; i < n; i++) host.fork();
  if (bootstrap.admin) host.admin = await startAdmin(host, { address: bootstrap.admin.address.address, port: bootstrap.admin.address.port });
  const stop = (why: string) => void host.shutdown(why);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await host.startConfig();
  } catch (e) {
    log.error('startup failed', { error: (e as Error).message });
    process.exit(1);
  }
}

class PrimaryHost implements AdminHost {
  readonly stats = new StatsStore();
  readonly startTime = new Date();
  healthCheckFailed = false;
  admin: AdminServer | null = null;
  private readonly workers = new Set<Worker>();
  private readonly ready = new Set<Worker>();
  private st: ServerState = 'INITIALIZING';
  private listenerAddrs: Record<string, string> = {};
  private hostStats = new Map<string, Host[]>();
  private nextId = 1;
  private readonly waiting = new Map<number, { left: number; snaps: Snapshot[]; done: () => void }>();
  private exiting = false;
  /** The config as one Envoy holds it (static, plus xDS from the one stream); binds nothing. */
  private readonly config: SwitchyardServer;
  private configStarted = false;
  /** Workers that got the xDS snapshot and follow every update since. */
  private readonly joined = new Set<Worker>();
  /** Workers that said hello before the initial fetch was done. */
  private readonly waitingJoin = new Set<Worker>();
  /** Cluster names a worker has carried traffic on (the health checks' no_traffic_interval ends). */
  private readonly traffic = new Set<string>();

  constructor(
    readonly bootstrap: BootstrapConfig,
    private readonly opts: ServerOptions,
  ) {
    this.config = new SwitchyardServer(bootstrap, {
      ...opts, admin: false, bindListeners: false,
      onXdsUpdate: (type, u) => {
        if (this.joined.size > 0) this.toJoined({ t: 'xds', updates: [toWire(type, u)], initial: false });
      },
      // The one resolver and health checker per cluster (Envoy's run on the main thread):
      // every new answer and every change goes to the workers.
      shared: {
        publisher: {
          publish: (r) => this.toJoined({ t: 'health', reports: [r] }),
          hadTraffic: (name) => this.traffic.has(name),
        },
        dnsPublisher: { publish: (r) => this.toJoined({ t: 'dns', reports: [r] }) },
      },
    });
  }

  /** Loads the config and runs the initial xDS fetch; then the workers get their snapshot. */
  async startConfig(): Promise<void> {
    await this.config.start();
    this.configStarted = true;
    for (const w of this.waitingJoin) this.join(w);
    this.waitingJoin.clear();
    this.maybeLive();
  }

  private toJoined(m: ToWorker): void {
    for (const w of this.joined) w.send(m);
  }

  private join(w: Worker): void {
    if (!this.workers.has(w)) return;
    w.send({ t: 'xds', updates: this.config.xdsManager?.snapshot() ?? [], initial: true } satisfies ToWorker);
    // DNS answers before health reports: the hosts a report names exist by then.
    const dns: DnsReport[] = [];
    const reports: HealthReport[] = [];
    for (const c of this.config.clusterManager.all()) {
      const d = c.dnsReport();
      if (d !== null) dns.push(d);
      const r = c.sharedStateReport();
      if (r !== null) reports.push(r);
    }
    w.send({ t: 'dns', reports: dns } satisfies ToWorker);
    w.send({ t: 'health', reports } satisfies ToWorker);
    this.joined.add(w);
  }

  private maybeLive(): void {
    if (this.configStarted && this.ready.size === this.workers.size && this.st === 'INITIALIZING') {
      this.st = 'LIVE';
      log.info('switchyard is live', { workers: this.ready.size });
    }
  }

  fork(): void {
    const w = cluster.fork();
    this.workers.add(w);
    w.on('message', (m: FromWorker) => this.onMessage(w, m));
    w.on('exit', (code) => {
      this.workers.delete(w);
      this.ready.delete(w);
      this.joined.delete(w);
      this.waitingJoin.delete(w);
      if (this.exiting) {
        if (this.workers.size === 0) void this.admin?.close().then(() => process.exit(0));
        return;
      }
      log.error('worker exited; starting another', { code });
      this.fork();
    });
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (m.t === 'hello') {
      if (this.configStarted) this.join(w);
      else this.waitingJoin.add(w);
    } else if (m.t === 'ready') {
      this.ready.add(w);
      this.listenerAddrs = { ...this.listenerAddrs, ...m.listeners };
      this.maybeLive();
    } else if (m.t === 'traffic') {
      this.traffic.add(m.cluster);
    } else if (m.t === 'outlier') {
      this.config.clusterManager.get(m.cluster)?.replayOutliers(m.events);
    } else if (m.t === 'snapshot') {
      const p = this.waiting.get(m.id);
      if (p === undefined) return;
      p.snaps.push(m.snap);
      if (--p.left === 0) p.done();
    }
  }

  /** Gathers and sums every worker's stats (bounded wait: a stuck worker is left out). */
  async refresh(): Promise<void> {
    const ws = [...this.ready];
    if (ws.length === 0) return;
    const id = this.nextId++;
    const snaps: Snapshot[] = [];
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.waiting.set(id, { left: ws.length, snaps, done: () => (clearTimeout(t), resolve()) });
      for (const w of ws) w.send({ t: 'snapshot', id } satisfies ToWorker);
    });
    this.waiting.delete(id);
    const sums = new Map<string, { value: number; kind: 'counter' | 'gauge' }>();
    for (const s of snaps) {
      for (const x of s.stats) {
        const cur = sums.get(x.name);
        // A cluster's membership stats describe its hosts and their updates, which every worker
        // holds and sees: the proxy's value is one worker's (the largest), not their sum.
        if (cur) cur.value = PER_CLUSTER_ONCE.test(x.name) ? Math.max(cur.value, x.value) : cur.value + x.value;
        else sums.set(x.name, { value: x.value, kind: x.kind });
      }
    }
    // Health checks and outlier detection the primary runs for every worker: their stats are the primary's.
    const shared = new Map(this.config.clusterManager.all().filter((c) => c.stateShared).map((c) => [c.config.name, c]));
    if (shared.size > 0) {
      for (const x of this.config.stats.snapshot()) {
        if (!x.name.startsWith('cluster.')) continue;
        let i = x.name.lastIndexOf('.health_check.');
        if (i < 0) i = x.name.lastIndexOf('.outlier_detection.');
        if (i > 8 && shared.has(x.name.slice(8, i))) sums.set(x.name, { value: x.value, kind: x.kind });
      }
    }
    for (const [name, x] of sums) (x.kind === 'counter' ? this.stats.counter(name) : this.stats.gauge(name)).value = x.value;
    // Per host of the config server's clusters: the workers' counters summed.
    const hosts = new Map<string, Host[]>();
    for (const c of this.config.clusters()) {
      const byKey = new Map<string, Host>();
      for (const h of c.hosts) {
        const agg = new Host(h.address, h.port, h.weight, h.edsHealth, h.priority, h.locality, h.hostname);
        byKey.set(h.key, agg);
      }
      // An ORIGINAL_DST cluster's hosts are made by the worker that saw the connection; the
      // primary lists every worker's (Envoy's main thread knows every worker's hosts).
      const madeInWorkers = c.config.type === 'ORIGINAL_DST';
      for (const s of snaps) {
        for (const h of s.hosts[c.config.name] ?? []) {
          let agg = byKey.get(h.key);
          if (agg === undefined) {
            if (!madeInWorkers) continue;
            agg = new Host(h.address, h.port, 1, 'HEALTHY', 0, undefined);
            byKey.set(h.key, agg);
          }
          agg.healthFlags = h.healthFlags;
          for (const k of Object.keys(h.stats) as (keyof HostStats)[]) agg.stats[k] += h.stats[k];
        }
      }
      // A shared cluster's flags and success rates are the primary's (the workers mirror the flags).
      if (shared.has(c.config.name)) {
        for (const h of c.hosts) {
          const agg = byKey.get(h.key);
          if (agg === undefined) continue;
          agg.healthFlags = h.healthFlags;
          agg.outlier = h.outlier;
        }
      }
      hosts.set(c.config.name, [...byKey.values()]);
    }
    for (const s of snaps) this.listenerAddrs = { ...this.listenerAddrs, ...s.listeners };
    this.hostStats = hosts;
  }

  state(): ServerState {
    return this.st;
  }

  listeners(): ListenerView[] {
    return this.config.listeners().map((l) => ({ ...l, boundAddress: this.listenerAddrs[l.config.name] ?? '' }));
  }

  clusters(): ClusterView[] {
    return this.config.clusters().map((c) => ({ ...c, hosts: this.hostStats.get(c.config.name) ?? c.hosts }));
  }

  xdsDump(): XdsDumpView | undefined {
    return this.config.xdsDump();
  }

  routeConfigs(): RouteConfigView[] {
    return this.config.routeConfigs();
  }

  warming(): WarmingViews {
    return this.config.warming();
  }

  drainListeners(o: { inboundOnly: boolean; graceful: boolean }): void {
    for (const w of this.workers) w.send({ t: 'drain', ...o } satisfies ToWorker);
  }

  quit(): void {
    void this.shutdown('quitquitquit');
  }

  setLogLevel(level: Level): void {
    log.setLevel(level);
    for (const w of this.workers) w.send({ t: 'log', level } satisfies ToWorker);
  }

  commandLineOptions(): Record<string, unknown> {
    return this.opts.commandLine;
  }

  async shutdown(why: string): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    this.st = 'DRAINING';
    log.info('draining', { reason: why, workers: this.workers.size });
    for (const w of this.workers) w.send({ t: 'shutdown' } satisfies ToWorker);
    void this.config.xdsManager?.close();
    if (this.workers.size === 0) process.exit(0);
    // Past the drain time plus a margin, stop waiting for workers.
    setTimeout(() => process.exit(0), (this.opts.drainTimeS + 5) * 1000).unref();
  }
}
