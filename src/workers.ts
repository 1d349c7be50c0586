// --concurrency N: N worker processes share the listeners through node:cluster (Node 20
// has no SO_REUSEPORT for net.Server). Each worker is a whole proxy; the primary owns the
// admin API and asks every worker for its stats and host counters when the admin is
// read, so /stats and /clusters show the sum, as Envoy's (per-thread) stats do.
import cluster, { type Worker } from 'node:cluster';
import type { AdminHost, ClusterView, ListenerView, ServerState } from './admin/host';
import { startAdmin, type AdminServer } from './admin/server';
import type { BootstrapConfig } from './config/types';
import { log, type Level } from './log';
import { SwitchyardServer, type ServerOptions } from './server';
import { StatsStore } from './telemetry/stats';
import { Host, HostStats } from './upstream/host';

type ToWorker = { t: 'snapshot'; id: number } | { t: 'shutdown' } | { t: 'drain'; inboundOnly: boolean; graceful: boolean } | { t: 'log'; level: Level };
interface Snapshot {
  stats: Array<{ name: string; value: number; kind: 'counter' | 'gauge' }>;
  hosts: Record<string, Array<{ key: string; stats: HostStats; healthFlags: number }>>;
  listeners: Record<string, string>;
}
type FromWorker = { t: 'ready'; listeners: Record<string, string> } | { t: 'snapshot'; id: number; snap: Snapshot };

/** In a worker: run the proxy and answer the primary. */
export async function runWorker(bootstrap: BootstrapConfig, opts: ServerOptions): Promise<void> {
  log.tag = `worker ${cluster.worker?.id ?? '?'}`;
  const server = new SwitchyardServer(bootstrap, { ...opts, admin: false });
  await server.start();
  const send = (m: FromWorker) => process.send!(m);
  const bound = () => Object.fromEntries(server.listeners().map((l) => [l.config.name, l.boundAddress]));
  process.on('message', (m: ToWorker) => {
    if (m.t === 'snapshot') {
      const hosts: Snapshot['hosts'] = {};
      for (const c of server.clusters()) hosts[c.config.name] = c.hosts.map((h) => ({ key: h.key, stats: h.stats, healthFlags: h.healthFlags }));
      send({ t: 'snapshot', id: m.id, snap: { stats: server.stats.snapshot(), hosts, listeners: bound() } });
    } else if (m.t === 'shutdown') void server.shutdown('primary').then(() => process.exit(0));
    else if (m.t === 'drain') server.drainListeners(m);
    else if (m.t === 'log') log.setLevel(m.level);
  });
  // The primary does the draining on SIGTERM; a worker signalled on its own drains too.
  process.on('SIGTERM', () => void server.shutdown('SIGTERM').then(() => process.exit(0)));
  process.on('SIGINT', () => {});
  send({ t: 'ready', listeners: bound() });
}

/** In the primary: fork the workers, serve the admin API, coordinate drain and exit. */
export async function runPrimary(bootstrap: BootstrapConfig, n: number, opts: ServerOptions): Promise<void> {
  const host = new PrimaryHost(bootstrap, opts);
  // Each worker accepts on the shared socket itself, as Envoy's worker threads do.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < n; i++) host.fork();
  if (bootstrap.admin) host.admin = await startAdmin(host, { address: bootstrap.admin.address.address, port: bootstrap.admin.address.port });
  const stop = (why: string) => void host.shutdown(why);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
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

  constructor(
    readonly bootstrap: BootstrapConfig,
    private readonly opts: ServerOptions,
  ) {
    for (const c of bootstrap.clusters) this.hostStats.set(c.name, []);
  }

  fork(): void {
    const w = cluster.fork();
    this.workers.add(w);
    w.on('message', (m: FromWorker) => this.onMessage(w, m));
    w.on('exit', (code) => {
      this.workers.delete(w);
      this.ready.delete(w);
      if (this.exiting) {
        if (this.workers.size === 0) void this.admin?.close().then(() => process.exit(0));
        return;
      }
      log.error('worker exited; starting another', { code });
      this.fork();
    });
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (m.t === 'ready') {
      this.ready.add(w);
      this.listenerAddrs = m.listeners;
      if (this.ready.size === this.workers.size && this.st === 'INITIALIZING') {
        this.st = 'LIVE';
        log.info('switchyard is live', { workers: this.ready.size });
      }
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
        if (cur) cur.value += x.value;
        else sums.set(x.name, { value: x.value, kind: x.kind });
      }
    }
    for (const [name, x] of sums) (x.kind === 'counter' ? this.stats.counter(name) : this.stats.gauge(name)).value = x.value;
    const hosts = new Map<string, Host[]>();
    for (const c of this.bootstrap.clusters) {
      const byKey = new Map<string, Host>();
      for (const s of snaps) {
        for (const h of s.hosts[c.name] ?? []) {
          let agg = byKey.get(h.key);
          if (agg === undefined) {
            const i = h.key.lastIndexOf(':');
            agg = new Host(h.key.slice(0, i).replace(/^\[|\]$/g, ''), Number(h.key.slice(i + 1)), 1, 'HEALTHY', 0, undefined);
            agg.healthFlags = h.healthFlags;
            byKey.set(h.key, agg);
          }
          for (const k of Object.keys(h.stats) as (keyof HostStats)[]) agg.stats[k] += h.stats[k];
        }
      }
      hosts.set(c.name, [...byKey.values()]);
    }
    this.hostStats = hosts;
  }

  state(): ServerState {
    return this.st;
  }

  listeners(): ListenerView[] {
    return this.bootstrap.listeners.map((l) => ({ config: l, boundAddress: this.listenerAddrs[l.name] ?? '', addedViaApi: false, lastUpdated: this.startTime }));
  }

  clusters(): ClusterView[] {
    return this.bootstrap.clusters.map((c) => ({ config: c, hosts: this.hostStats.get(c.name) ?? [], addedViaApi: false, lastUpdated: this.startTime }));
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
    if (this.workers.size === 0) process.exit(0);
    // Past the drain time plus a margin, stop waiting for workers.
    setTimeout(() => process.exit(0), (this.opts.drainTimeS + 5) * 1000).unref();
  }
}
