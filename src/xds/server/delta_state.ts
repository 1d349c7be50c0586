// The per-type bookkeeping of one incremental (delta) xDS stream, kept free of I/O so it
// can be tested on its own. It follows the Envoy xDS protocol doc, "Incremental xDS"
// (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds),
// and the DeltaDiscoveryRequest comments in envoy/service/discovery/v3/discovery.proto:
//
// - resource_names_subscribe / _unsubscribe add to and remove from the tracked set; empty
//   lists change nothing. '*' subscribes to (and unsubscribing it leaves) the wildcard.
//   The legacy wildcard: a first request for Listener/Cluster that names nothing.
// - "the server must respond with all resources listed in resource_names_subscribe, even if
//   it believes the client has the most recent version of them" ...
// - ... except those the client declares in initial_resource_versions (the first message of
//   each type on a reconnected stream) at the version the server has: that map is there so
//   a reconnect does not resend what the client already holds.
// - A resource the client holds that no longer exists is sent in removed_resources.
import { WILDCARD } from './kinds';

export interface VersionedResource {
  readonly name: string;
  readonly version: string;
}

export interface DeltaRequestPart {
  subscribe: readonly string[];
  unsubscribe: readonly string[];
  initial: Readonly<Record<string, string>>;
}

export interface DeltaDiff {
  /** Names to send (in scope, and the client does not hold this version). */
  send: string[];
  /** Names the client holds that no longer exist. */
  removed: string[];
}

export class DeltaSubscription {
  wildcard = false;
  readonly names = new Set<string>();
  /** name → version the client holds, as far as the server knows. */
  readonly known = new Map<string, string>();
  private seen = false;

  /** @param wildcardCapable whether an empty first request means wildcard (Listener, Cluster). */
  constructor(private readonly wildcardCapable: boolean) {}

  /** Applies a request's subscription part. */
  apply(req: DeltaRequestPart): void {
    const first = !this.seen;
    this.seen = true;
    if (first) {
      for (const [name, version] of Object.entries(req.initial)) this.known.set(name, version);
      if (this.wildcardCapable && req.subscribe.length === 0) this.wildcard = true; // legacy wildcard
    }
    for (const name of req.subscribe) {
      if (name === WILDCARD) {
        this.wildcard = true;
        continue;
      }
      this.names.add(name);
      // Resend on (re)subscribe unless this very request declared the version held.
      if (!(first && Object.prototype.hasOwnProperty.call(req.initial, name))) this.known.delete(name);
    }
    for (const name of req.unsubscribe) {
      if (name === WILDCARD) {
        this.wildcard = false;
        continue;
      }
      this.names.delete(name);
      // The client drops an unsubscribed resource itself; no removal is sent for it.
      if (!this.wildcard) this.known.delete(name);
    }
  }

  inScope(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /** What to send against the resources that exist now. Does not change state; see commit(). */
  diff(available: ReadonlyMap<string, VersionedResource>): DeltaDiff {
    const send: string[] = [];
    const removed: string[] = [];
    for (const r of available.values()) {
      if (this.inScope(r.name) && this.known.get(r.name) !== r.version) send.push(r.name);
    }
    for (const name of this.known.keys()) {
      if (!available.has(name) && this.inScope(name)) removed.push(name);
    }
    return { send: send.sort(), removed: removed.sort() };
  }

  /** Records that `diff` was sent: the client now holds those versions and dropped the removed. */
  commit(d: DeltaDiff, available: ReadonlyMap<string, VersionedResource>): void {
    for (const name of d.send) this.known.set(name, available.get(name)!.version);
    for (const name of d.removed) this.known.delete(name);
    // Held resources that left the subscription (e.g. '*' unsubscribed) are no longer tracked.
    for (const name of [...this.known.keys()]) if (!this.inScope(name)) this.known.delete(name);
  }

  /** The subscription as /status shows it. */
  subscribed(): string[] {
    return [...(this.wildcard ? [WILDCARD] : []), ...[...this.names].sort()];
  }
}
