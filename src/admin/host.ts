// What the admin server needs from the running proxy. The server (src/server.ts)
// implements it; the admin module only renders.
import type { StatsStore } from '../telemetry/stats';
import type { Host } from '../upstream/host';
import type { BootstrapConfig, ClusterConfig, ListenerConfig } from '../config/types';
import type { Level } from '../log';
import type { Canon } from '../xds/proto/canonical';
import type { TypeDump } from '../xds/client/types';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface ClusterView {
  config: ClusterConfig;
  hosts: Host[];
  /** True for clusters from xDS (dynamic_active_clusters), false for static_resources. */
  addedViaApi: boolean;
  lastUpdated: Date;
  versionInfo?: string;
}

export interface ListenerView {
  config: ListenerConfig;
  /** The bound address ('0.0.0.0:10000'), with the real port when 0 was asked for. */
  boundAddress: string;
  addedViaApi: boolean;
  lastUpdated: Date;
  versionInfo?: string;
}

/** What the ADS client holds, for the dynamic parts of /config_dump. */
export interface XdsDumpView {
  /** Type URL → version_info of the last response accepted (ACKed) for that type. */
  versionInfo: Record<string, string>;
  /** Per watched type: accepted resources (with versions) and rejected ones (error_state). */
  types: TypeDump[];
}

/** A resource accepted over xDS that is not in use yet (Envoy's warming). */
export interface WarmingEntry<T> {
  config: T;
  versionInfo: string;
  /** When this version started warming. */
  lastUpdated: Date;
}

export interface WarmingViews {
  clusters: WarmingEntry<ClusterConfig>[];
  listeners: WarmingEntry<ListenerConfig>[];
}

/** A route table taken over RDS, for RoutesConfigDump.dynamic_route_configs. */
export interface RouteConfigView {
  name: string;
  /** The canonical RouteConfiguration it was built from. */
  raw: Canon;
  version: string;
  lastUpdated: Date;
}

export interface AdminHost {
  readonly stats: StatsStore;
  readonly bootstrap: BootstrapConfig;
  readonly startTime: Date;
  state(): ServerState;
  /** Set by POST /healthcheck/fail, cleared by /healthcheck/ok: /ready answers 503 while set. */
  healthCheckFailed: boolean;
  listeners(): ListenerView[];
  clusters(): ClusterView[];
  /** POST /drain_listeners (?inboundonly, ?graceful). */
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean }): void;
  /** POST /quitquitquit: drain then exit 0. */
  quit(): void;
  setLogLevel(level: Level): void;
  commandLineOptions(): Record<string, unknown>;
  /** Called before each admin request; with --concurrency > 1 it gathers the workers' stats. */
  refresh?(): Promise<void>;
  /** The ADS client's state; absent (or undefined) without dynamic_resources. */
  xdsDump?(): XdsDumpView | undefined;
  /** Route tables from RDS. */
  routeConfigs?(): RouteConfigView[];
  /** Clusters and listeners from xDS still warming (not yet in use), for dynamic_warming_*. */
  warming?(): WarmingViews;
}
