// The public shapes of the ADS client: what a watcher receives, what it answers, and what
// the client reports for /config_dump. Everything a handler sees is already decoded into
// the canonical form (proto/canonical.ts, design.md convention 1); raw protobuf stops here.
import { Canon, TYPE_PREFIX } from '../proto/canonical';

export type XdsApi = 'sotw' | 'delta';

/** The explicit wildcard name (xDS protocol doc, "How the client specifies what resources to return"). */
export const WILDCARD = '*';

/** A subscription: every resource of the type, or exactly these names. */
export type WatchNames = readonly string[] | typeof WILDCARD;

export const TYPE_URLS = {
  LDS: TYPE_PREFIX + 'envoy.config.listener.v3.Listener',
  RDS: TYPE_PREFIX + 'envoy.config.route.v3.RouteConfiguration',
  CDS: TYPE_PREFIX + 'envoy.config.cluster.v3.Cluster',
  EDS: TYPE_PREFIX + 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  SDS: TYPE_PREFIX + 'envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** A resource the client accepted, with the version it was delivered at. */
export interface VersionedCanon {
  readonly resource: Canon;
  /** SotW: the response's version_info; Delta: the resource's own version. */
  readonly version: string;
}

export interface ResourceUpdate {
  /** New or changed resources, decoded and validated by the client (never a bad one). */
  readonly added: ReadonlyMap<string, VersionedCanon>;
  /** Names the handler received before that no longer exist (never because a stream broke). */
  readonly removed: readonly string[];
  /** The response's version_info (SotW) or system_version_info (Delta). */
  readonly versionInfo: string;
}

export interface WatchHandler {
  /**
   * Applies an update; returns name → error message for each added resource it rejects.
   * A rejected resource is NACKed and the handler keeps what it had for that name; the
   * rest of the update counts as applied (gRFC A46). Throwing rejects every added resource.
   */
  apply(update: ResourceUpdate): ReadonlyMap<string, string>;
}

export interface WatchOptions {
  /**
   * How long ready() waits for the first response before resolving anyway: Envoy's
   * ConfigSource.initial_fetch_timeout, default 15 s; 0 waits forever.
   */
  initialFetchTimeoutMs?: number;
}

/** How ready() resolved: a first response was handled (ACKed or NACKed), or the timeout passed. */
export type ReadyResult = 'received' | 'timeout';

/** Envoy's admin.v3.UpdateFailureState, for /config_dump. */
export interface UpdateFailureState {
  /** The rejected resource as it arrived (an Any), when it could be attributed. */
  readonly failed_configuration?: { type_url: string; value: Uint8Array };
  readonly last_update_attempt: string;
  readonly details: string;
  readonly version_info: string;
}

export interface ResourceDump {
  readonly name: string;
  /** Absent when the resource was never accepted (only its error_state is known). */
  readonly version?: string;
  readonly last_updated?: string;
  readonly resource?: Canon;
  readonly error_state?: UpdateFailureState;
}

export interface NackRecord {
  readonly version_info: string;
  readonly nonce: string;
  readonly details: string;
  readonly time: string;
}

export interface TypeDump {
  readonly type_url: string;
  /** What is subscribed: ['*'] or the names. */
  readonly subscribed: string[];
  /** The version_info of the last response ACKed for this type ('' before any). */
  readonly version_info: string;
  readonly last_updated?: string;
  readonly last_nack?: NackRecord;
  readonly resources: ResourceDump[];
}

/** The ADS stream as callers may observe it (design.md convention 8). */
export type StreamStateView =
  | { t: 'idle' }
  | { t: 'connecting'; attempt: number; since: string }
  | { t: 'ready'; since: string }
  | { t: 'backoff'; attempt: number; retry_at: string; last_error: string }
  | { t: 'closed' };
