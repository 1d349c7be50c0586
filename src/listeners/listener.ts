// One bound listener: accepts connections, picks a filter chain and hands the socket to
// its terminal filter. State machine: binding → active → draining → closed.
import { createServer, type Server, type Socket } from 'node:net';
import type { FilterChainConfig, ListenerConfig } from '../config/types';
import { log } from '../log';
import type { Counter, Gauge, StatsStore } from '../telemetry/stats';
import type { ClusterManager } from '../upstream/cluster_manager';
import { CompiledMatch, selectChain, type ConnectionInfo } from './filter_chain_match';
import { buildTerminal, type TerminalFilter } from './terminal';

type State = { t: 'binding' } | { t: 'active' } | { t: 'draining'; since: number } | { t: 'closed' };

export class ActiveListener {
  private state: State = { t: 'binding' };
  private server: Server | null = null;
  private readonly chains: CompiledMatch<TerminalFilter>[];
  private readonly defaultChain: TerminalFilter | undefined;
  private readonly all: TerminalFilter[] = [];
  private readonly cxTotal: Counter;
  private readonly cxActive: Gauge;
  private readonly cxDestroy: Counter;
  private readonly noChain: Counter;
  boundAddress = '';
  readonly lastUpdated = new Date();

  constructor(
    readonly config: ListenerConfig,
    clusters: ClusterManager,
    store: StatsStore,
    readonly addedViaApi = false,
  ) {
    const build = (c: FilterChainConfig) => {
      const t = buildTerminal(c.filters, clusters, store);
      this.all.push(t);
      return t;
    };
    this.chains = config.filterChains.map((c) => new CompiledMatch(c.match, build(c)));
    this.defaultChain = config.defaultFilterChain ? build(config.defaultFilterChain) : undefined;
    const a = config.address;
    const p = `listener.${a.address.includes(':') ? `[${a.address}]` : a.address}_${a.port}.`;
    this.cxTotal = store.counter(p + 'downstream_cx_total');
    this.cxActive = store.gauge(p + 'downstream_cx_active');
    this.cxDestroy = store.counter(p + 'downstream_cx_destroy');
    this.noChain = store.counter(p + 'no_filter_chain_match');
  }

  get name(): string {
    return this.config.name;
  }

  async listen(): Promise<void> {
    const srv = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (s) => this.onConnection(s));
    this.server = srv;
    const { address, port } = this.config.address;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: address, port, backlog: 1024 }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (e) => log.error('listener error', { listener: this.name, error: e.message }));
    const ad = srv.address();
    if (ad !== null && typeof ad === 'object') this.boundAddress = ad.family === 'IPv6' ? `[${ad.address}]:${ad.port}` : `${ad.address}:${ad.port}`;
    this.state = { t: 'active' };
    log.info('listener up', { name: this.name, address: this.boundAddress });
  }

  get port(): number {
    const ad = this.server?.address();
    return ad !== null && typeof ad === 'object' ? ad.port : 0;
  }

  private onConnection(s: Socket): void {
    if (this.state.t === 'closed') {
      s.destroy();
      return;
    }
    this.cxTotal.inc();
    this.cxActive.inc();
    s.once('close', () => {
      this.cxActive.dec();
      this.cxDestroy.inc();
    });
    const info: ConnectionInfo = {
      localAddress: s.localAddress ?? '',
      localPort: s.localPort ?? 0,
      remoteAddress: s.remoteAddress ?? '',
      remotePort: s.remotePort ?? 0,
      serverName: '',
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
    };
    const t = selectChain(this.chains, info) ?? this.defaultChain;
    if (t === undefined) {
      this.noChain.inc();
      s.destroy();
      return;
    }
    s.on('error', ignore);
    t.onConnection(s, null);
  }

  /** Stop accepting; existing connections continue. */
  stopAccepting(): void {
    if (this.server !== null) this.server.close();
  }

  /** Graceful drain: stop accepting and ask HTTP clients to leave. */
  drain(): void {
    if (this.state.t === 'closed' || this.state.t === 'draining') return;
    this.state = { t: 'draining', since: Date.now() };
    this.stopAccepting();
    for (const t of this.all) t.drain();
  }

  get activeConnections(): number {
    let n = 0;
    for (const t of this.all) n += t.activeConnections;
    return n;
  }

  close(): void {
    this.state = { t: 'closed' };
    this.stopAccepting();
    for (const t of this.all) t.closeAll();
  }
}

function ignore(): void {}
