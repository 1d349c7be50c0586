// One bound listener: accepts connections, picks a filter chain and hands the socket to
// its terminal filter. State machine: binding → active → draining → closed.
//
// A listener update (LDS) keeps the bound socket — Node cannot bind the same port twice —
// and swaps in a new generation of filter chains: new connections get the new config while
// connections on the old generation drain (HTTP/1.1 Connection: close, HTTP/2 GOAWAY) and
// are closed at the end of the drain time, as Envoy drains a replaced listener.
import { createServer, type Server, type Socket } from 'node:net';
import type { FilterChainConfig, ListenerConfig } from '../config/types';
import { listenTransparent } from '../interception/transparent';
import { log } from '../log';
import type { Counter, Gauge } from '../telemetry/stats';
import { attachConnectionInfo, connectionInfoFromSocket, type ConnectionInfo } from './connection_info';
import { CompiledMatch, selectChain } from './filter_chain_match';
import { ListenerFilterChain } from './listener_filters';
import { buildTerminal, type RuntimeContext, type TerminalFilter } from './terminal';

type State = { t: 'binding' } | { t: 'active' } | { t: 'draining'; since: number } | { t: 'closed' };

/** The listener filters and filter chains of one version of the listener's config. */
class Generation {
  readonly chains: CompiledMatch<TerminalFilter>[];
  readonly defaultChain: TerminalFilter | undefined;
  readonly all: TerminalFilter[] = [];
  readonly listenerFilters: ListenerFilterChain | null;

  constructor(config: ListenerConfig, ctx: RuntimeContext, preCx: { timeouts: Counter; active: Gauge }) {
    this.listenerFilters = config.listenerFilters.length === 0 ? null : new ListenerFilterChain(config.listenerFilters, ctx.store, {
      timeoutMs: config.listenerFiltersTimeoutMs,
      continueOnTimeout: config.continueOnListenerFiltersTimeout,
      transparent: config.transparent,
      ...preCx,
    });
    const build = (c: FilterChainConfig) => {
      const t = buildTerminal(c.filters, ctx);
      this.all.push(t);
      return t;
    };
    this.chains = config.filterChains.map((c) => new CompiledMatch(c.match, build(c)));
    this.defaultChain = config.defaultFilterChain ? build(config.defaultFilterChain) : undefined;
  }

  get activeConnections(): number {
    let n = 0;
    for (const t of this.all) n += t.activeConnections;
    return n;
  }

  drain(): void {
    for (const t of this.all) t.drain();
  }

  close(): void {
    for (const t of this.all) {
      t.closeAll();
      t.dispose();
    }
  }
}

export class ActiveListener {
  private state: State = { t: 'binding' };
  private server: Server | null = null;
  private gen: Generation;
  /** Replaced generations still finishing their connections. */
  private readonly old = new Set<Generation>();
  private readonly cxTotal: Counter;
  private readonly cxActive: Gauge;
  private readonly cxDestroy: Counter;
  private readonly noChain: Counter;
  private readonly preCx: { timeouts: Counter; active: Gauge };
  boundAddress = '';
  lastUpdated = new Date();
  versionInfo?: string;

  constructor(
    public config: ListenerConfig,
    private readonly ctx: RuntimeContext,
    readonly addedViaApi = false,
  ) {
    const a = config.address;
    const p = `listener.${a.address.includes(':') ? `[${a.address}]` : a.address}_${a.port}.`;
    const store = ctx.store;
    this.cxTotal = store.counter(p + 'downstream_cx_total');
    this.cxActive = store.gauge(p + 'downstream_cx_active');
    this.cxDestroy = store.counter(p + 'downstream_cx_destroy');
    this.noChain = store.counter(p + 'no_filter_chain_match');
    this.preCx = { timeouts: store.counter(p + 'downstream_pre_cx_timeout'), active: store.gauge(p + 'downstream_pre_cx_active') };
    this.gen = new Generation(config, ctx, this.preCx);
  }

  get name(): string {
    return this.config.name;
  }

  async listen(): Promise<void> {
    if (!this.config.bindToPort) {
      // Receives only connections handed off by a use_original_dst listener.
      const { address, port } = this.config.address;
      this.boundAddress = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
      this.state = { t: 'active' };
      log.info('listener up (not bound: receives hand-offs)', { name: this.name, address: this.boundAddress });
      return;
    }
    const srv = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (s) => this.onConnection(s));
    this.server = srv;
    const { address, port } = this.config.address;
    if (this.config.transparent) {
      // TPROXY: IP_TRANSPARENT lets the socket accept connections to addresses it does not own.
      await listenTransparent(srv, { host: address, port, backlog: 1024 });
    } else {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: address, port, backlog: 1024 }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
    }
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

  /**
   * Swaps in a new config for the same address: new connections use it; connections of the
   * previous config drain and are closed after `drainMs`.
   */
  update(config: ListenerConfig, drainMs: number, versionInfo?: string): void {
    const next = new Generation(config, this.ctx, this.preCx);
    const prev = this.gen;
    this.gen = next;
    this.config = config;
    this.lastUpdated = new Date();
    this.versionInfo = versionInfo;
    this.retire(prev, drainMs);
  }

  private retire(g: Generation, drainMs: number): void {
    this.old.add(g);
    g.drain();
    const t = setTimeout(() => {
      g.close();
      this.old.delete(g);
    }, drainMs);
    t.unref();
  }

  private onConnection(s: Socket): void {
    if (this.state.t === 'closed') {
      s.destroy();
      return;
    }
    s.on('error', ignore);
    const info = connectionInfoFromSocket(s);
    attachConnectionInfo(s, info);
    const g = this.gen;
    if (g.listenerFilters === null) this.dispatch(s, info, null, g);
    else g.listenerFilters.run(s, info, null, (initial) => this.dispatch(s, info, initial, g));
  }

  /**
   * After the listener filters: with use_original_dst, a redirected connection goes to the
   * listener for its original destination (exact address, else the wildcard one for that
   * port); otherwise, or when there is none, this listener serves it.
   */
  private dispatch(s: Socket, info: ConnectionInfo, initial: Buffer | null, g: Generation): void {
    if (this.config.useOriginalDst && info.localRestored && this.ctx.listeners !== undefined) {
      const target = this.ctx.listeners.findForHandoff(info.localAddress, info.localPort);
      if (target !== undefined && target !== this) {
        target.acceptHandoff(s, info, initial);
        return;
      }
    }
    this.serve(s, info, initial, g);
  }

  /** A connection handed off by a use_original_dst listener: this listener's filters, then its chains (no further hand-off). */
  acceptHandoff(s: Socket, info: ConnectionInfo, initial: Buffer | null): void {
    if (this.state.t === 'closed' || this.state.t === 'draining') {
      s.destroy();
      return;
    }
    const g = this.gen;
    if (g.listenerFilters === null) this.serve(s, info, initial, g);
    else g.listenerFilters.run(s, info, initial, (bytes) => this.serve(s, info, bytes, g));
  }

  private serve(s: Socket, info: ConnectionInfo, initial: Buffer | null, g: Generation): void {
    if (s.destroyed) return;
    this.cxTotal.inc();
    this.cxActive.inc();
    s.once('close', () => {
      this.cxActive.dec();
      this.cxDestroy.inc();
    });
    const t = selectChain(g.chains, info) ?? g.defaultChain;
    if (t === undefined) {
      this.noChain.inc();
      s.destroy();
      return;
    }
    t.onConnection(s, initial);
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
    this.gen.drain();
  }

  get activeConnections(): number {
    let n = this.gen.activeConnections;
    for (const g of this.old) n += g.activeConnections;
    return n;
  }

  close(): void {
    this.state = { t: 'closed' };
    this.stopAccepting();
    this.gen.close();
    for (const g of this.old) g.close();
    this.old.clear();
  }
}

function ignore(): void {}
