// The terminal network filter of a filter chain at run time, built once per chain config
// (design convention 4): the connection manager for L7, tcp_proxy for L4.
import type { Socket } from 'node:net';
import type { NetworkFilterConfig } from '../config/types';
import type { ConnectionInfo } from './connection_info';
import { SET_FILTER_STATE_TYPE_URL, type SetFilterStateConfig } from '../filters/network/set_filter_state/config';
import { setConnectionFilterState } from '../filters/network/set_filter_state/runtime';
import { HcmRuntime } from '../filters/network/http_connection_manager/runtime';
import type { HcmConfig } from '../filters/network/http_connection_manager/config';
import { TcpProxyRuntime } from '../filters/network/tcp_proxy/proxy';
import type { TcpProxyConfig } from '../filters/network/tcp_proxy/config';
import type { StatsStore } from '../telemetry/stats';
import type { ClusterManager } from '../upstream/cluster_manager';
import type { RouteTableRegistry } from '../routing/registry';

export interface TerminalFilter {
  onConnection(socket: Socket, initial: Buffer | null): void;
  /** Graceful drain: HTTP asks clients to go away; TCP lets connections run to the deadline. */
  drain(): void;
  closeAll(): void;
  /** Releases config-time resources (RDS watches) once the filter is no longer used. */
  dispose(): void;
  readonly activeConnections: number;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

class TcpTerminal implements TerminalFilter {
  constructor(private readonly rt: TcpProxyRuntime) {}
  onConnection(s: Socket, initial: Buffer | null): void {
    this.rt.onConnection(s, initial);
  }
  drain(): void {}
  closeAll(): void {
    this.rt.closeAll();
  }
  dispose(): void {}
  get activeConnections(): number {
    return this.rt.activeConnections;
  }
}

class HttpTerminal implements TerminalFilter {
  constructor(private readonly rt: HcmRuntime) {}
  onConnection(s: Socket, initial: Buffer | null): void {
    this.rt.onConnection(s, initial);
  }
  drain(): void {
    this.rt.drain();
  }
  closeAll(): void {
    this.rt.closeAll();
  }
  dispose(): void {
    this.rt.dispose();
  }
  get activeConnections(): number {
    return this.rt.activeConnections;
  }
}

/** Finds the listener a use_original_dst listener hands a redirected connection to. */
export interface ListenerLookup {
  findForHandoff(ip: string, port: number): { acceptHandoff(s: Socket, info: ConnectionInfo, initial: Buffer | null): void } | undefined;
}

/** What filter runtimes are built against: the proxy's shared state. */
export interface RuntimeContext {
  clusters: ClusterManager;
  store: StatsStore;
  routes: RouteTableRegistry;
  listeners?: ListenerLookup;
}

/** Runs the connection-setup network filters (set_filter_state) before the terminal one. */
class WithConnectionFilters implements TerminalFilter {
  constructor(
    private readonly setup: SetFilterStateConfig[],
    private readonly terminal: TerminalFilter,
  ) {}
  onConnection(s: Socket, initial: Buffer | null): void {
    for (const f of this.setup) setConnectionFilterState(f, s);
    this.terminal.onConnection(s, initial);
  }
  drain(): void {
    this.terminal.drain();
  }
  closeAll(): void {
    this.terminal.closeAll();
  }
  dispose(): void {
    this.terminal.dispose();
  }
  get activeConnections(): number {
    return this.terminal.activeConnections;
  }
}

/**
 * Builds the runtime for a chain's filters: any number of set_filter_state filters, then one
 * terminal filter (http_connection_manager or tcp_proxy), last.
 */
export function buildTerminal(filters: NetworkFilterConfig[], ctx: RuntimeContext): TerminalFilter {
  const setup: SetFilterStateConfig[] = [];
  for (const f of filters.slice(0, -1)) {
    if (f.typeUrl !== SET_FILTER_STATE_TYPE_URL) throw new Error(`network filter ${f.name} (${f.typeUrl}) must be the last filter of its chain`);
    setup.push(f.config as SetFilterStateConfig);
  }
  const terminal = buildTerminalFilter(filters[filters.length - 1], ctx);
  return setup.length === 0 ? terminal : new WithConnectionFilters(setup, terminal);
}

function buildTerminalFilter(f: NetworkFilterConfig | undefined, ctx: RuntimeContext): TerminalFilter {
  if (f === undefined) throw new Error('a filter chain needs a terminal network filter');
  if (f.typeUrl === HCM) return new HttpTerminal(new HcmRuntime(f.config as HcmConfig, ctx.clusters, ctx.store, ctx.routes));
  if (f.typeUrl === TCP) return new TcpTerminal(new TcpProxyRuntime(f.config as TcpProxyConfig, ctx.clusters, ctx.store));
  throw new Error(`network filter ${f.name} (${f.typeUrl}) is not a terminal filter`);
}
