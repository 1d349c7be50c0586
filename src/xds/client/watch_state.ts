// Everything the client keeps for one watched type URL, whichever variant of the protocol
// delivers it: the subscription, the handler, the resources it accepted (with versions, for
// reconnects and /config_dump), per-resource failures (Envoy's UpdateFailureState), the last
// ACKed version_info and the last NACK, and the ready() promise behind initial_fetch_timeout.
//
// commit() is the one place a response is applied: out-of-scope resources are dropped, the
// handler gets the good ones plus the removals, and the outcome is an ACK or a NACK whose
// error_detail lists every bad resource. Per the xDS protocol doc ("ACK and NACK
// semantics"), a NACK keeps the previous version_info; per gRFC A46 the good resources of a
// NACKed response are still applied, and a bad one leaves the handler's previous copy.
import { log } from '../../log';
import { DecodedBatch, DecodedResource, ResourceError, errorLine } from './decode';
import {
  NackRecord, ReadyResult, ResourceDump, TypeDump, UpdateFailureState, VersionedCanon, WILDCARD, WatchHandler, WatchNames,
} from './types';

export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

interface Held extends DecodedResource {
  readonly lastUpdated: string;
}

export type Outcome = { t: 'ack'; versionInfo: string } | { t: 'nack'; details: string };

/** SotW types whose every response is the full set: a missing resource was deleted. */
const FULL_STATE_TYPES = new Set([
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration',
]);

/**
 * xDS protocol doc, "Deleting resources" (SotW): for Listener and Cluster every response
 * carries all resources, so a held one that is missing was deleted; for other types (RDS,
 * EDS, SDS) absence means nothing, deletion follows from the parent resource going away.
 * If any resource of the response could not even be named, its absence cannot be told
 * apart from a bad copy, so nothing is removed on that response.
 */
export function sotwRemovals(typeUrl: string, held: Iterable<string>, batch: DecodedBatch): string[] {
  if (!FULL_STATE_TYPES.has(typeUrl)) return [];
  if (batch.errors.some((e) => e.name === undefined)) return [];
  const present = new Set<string>(batch.good.keys());
  for (const e of batch.errors) present.add(e.name!);
  return [...held].filter((n) => !present.has(n)).sort();
}

export function defaultNames(typeUrl: string): WatchNames | undefined {
  return FULL_STATE_TYPES.has(typeUrl) ? WILDCARD : undefined;
}

export class WatchState {
  names: ReadonlySet<string> | typeof WILDCARD;
  readonly accepted = new Map<string, Held>();
  readonly failures = new Map<string, UpdateFailureState>();
  versionInfo = '';
  lastUpdated: string | undefined;
  lastNack: NackRecord | undefined;
  /** SotW: the nonce of the latest response of this type, sent with every later request. */
  lastNonce = '';
  readonly ready: Promise<ReadyResult>;
  private settle: ((r: ReadyResult) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly typeUrl: string, names: WatchNames, readonly handler: WatchHandler, initialFetchTimeoutMs = DEFAULT_INITIAL_FETCH_TIMEOUT_MS) {
    this.names = names === WILDCARD ? WILDCARD : new Set(names);
    this.ready = new Promise((resolve) => (this.settle = resolve));
    if (initialFetchTimeoutMs > 0) {
      this.timer = setTimeout(() => this.markReady('timeout'), initialFetchTimeoutMs);
    }
  }

  get wildcard(): boolean {
    return this.names === WILDCARD;
  }

  inScope(name: string): boolean {
    return this.names === WILDCARD || this.names.has(name);
  }

  /** ['*'] or the sorted names. */
  subscribed(): string[] {
    return this.names === WILDCARD ? [WILDCARD] : [...this.names].sort();
  }

  /**
   * Replaces the subscription. Resources that left it are forgotten (not reported to the
   * handler: the caller that unsubscribed knows). Returns what a delta request must carry.
   */
  setNames(next: WatchNames): { subscribe: string[]; unsubscribe: string[] } {
    const before = this.subscribed();
    this.names = next === WILDCARD ? WILDCARD : new Set(next);
    const after = this.subscribed();
    for (const n of [...this.accepted.keys()]) if (!this.inScope(n)) this.accepted.delete(n);
    for (const n of [...this.failures.keys()]) if (!this.inScope(n)) this.failures.delete(n);
    return { subscribe: after.filter((n) => !before.includes(n)), unsubscribe: before.filter((n) => !after.includes(n)) };
  }

  /** name → version of everything accepted: Delta's initial_resource_versions on a new stream. */
  heldVersions(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [n, h] of this.accepted) o[n] = h.version;
    return o;
  }

  markReady(r: ReadyResult): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.settle;
    this.settle = undefined;
    s?.(r);
  }

  /** Applies a decoded response; `removed` are names the server says are gone. */
  commit(versionInfo: string, nonce: string, batch: DecodedBatch, removed: readonly string[]): Outcome {
    const now = new Date().toISOString();
    const added = new Map<string, VersionedCanon>();
    for (const [n, r] of batch.good) if (this.inScope(n)) added.set(n, { resource: r.resource, version: r.version });
    const errors: ResourceError[] = batch.errors.filter((e) => e.name === undefined || this.inScope(e.name));
    // Only what the handler holds is reported removed; a removal also clears a failure.
    const gone = removed.filter((n) => this.accepted.has(n));
    for (const n of removed) this.failures.delete(n);

    const rejected = this.callHandler({ added, removed: gone, versionInfo });
    for (const n of gone) this.accepted.delete(n);
    for (const [n, r] of batch.good) {
      if (!added.has(n)) continue;
      const why = rejected.get(n);
      if (why !== undefined) {
        errors.push({ name: n, index: '', path: '', message: why, raw: r.raw });
        continue;
      }
      this.accepted.set(n, { ...r, lastUpdated: now });
      this.failures.delete(n);
    }
    for (const [n, why] of rejected) if (!added.has(n)) errors.push({ name: n, index: '', path: '', message: why });
    this.markReady('received');

    if (errors.length === 0) {
      this.versionInfo = versionInfo;
      this.lastUpdated = now;
      return { t: 'ack', versionInfo };
    }
    const byName = new Map<string, string[]>();
    for (const e of errors) {
      if (e.name === undefined) continue;
      byName.set(e.name, [...(byName.get(e.name) ?? []), errorLine(e)]);
    }
    for (const [n, lines] of byName) {
      const raw = errors.find((e) => e.name === n && e.raw)?.raw;
      this.failures.set(n, { failed_configuration: raw, last_update_attempt: now, details: lines.join('\n'), version_info: versionInfo });
    }
    const details = errors.map(errorLine).join('\n');
    this.lastNack = { version_info: versionInfo, nonce, details, time: now };
    return { t: 'nack', details };
  }

  private callHandler(update: { added: Map<string, VersionedCanon>; removed: string[]; versionInfo: string }): ReadonlyMap<string, string> {
    try {
      const r = this.handler.apply(update);
      return r instanceof Map ? r : new Map();
    } catch (e) {
      const msg = `handler failed: ${(e as Error)?.message ?? String(e)}`;
      log.error('xds handler threw; rejecting the update', { type: this.typeUrl, error: msg });
      return new Map([...update.added.keys()].map((n) => [n, msg]));
    }
  }

  dump(): TypeDump {
    const names = new Set([...this.accepted.keys(), ...this.failures.keys()]);
    const resources: ResourceDump[] = [...names].sort().map((name) => {
      const h = this.accepted.get(name);
      const f = this.failures.get(name);
      return {
        name,
        ...(h ? { version: h.version, last_updated: h.lastUpdated, resource: h.resource } : {}),
        ...(f ? { error_state: f } : {}),
      };
    });
    return {
      type_url: this.typeUrl,
      subscribed: this.subscribed(),
      version_info: this.versionInfo,
      ...(this.lastUpdated ? { last_updated: this.lastUpdated } : {}),
      ...(this.lastNack ? { last_nack: this.lastNack } : {}),
      resources,
    };
  }
}
