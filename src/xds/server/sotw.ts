// One state-of-the-world ADS stream (StreamAggregatedResources), following the Envoy xDS
// protocol doc (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol):
//
// - Per type URL the client subscribes to a set of names; each request replaces the set.
//   An empty set is a wildcard only for Listener/Cluster and only while the client has
//   never named anything (the legacy wildcard); '*' is the explicit wildcard ("How the
//   client specifies what resources to return").
// - Every response carries all subscribed resources that exist, a version_info and a fresh
//   nonce. For Listener and Cluster a missing name therefore means "does not exist"
//   ("Knowing When a Requested Resource Does Not Exist"), so those types get a response on
//   every subscription change; other types only when the content changes.
// - A request whose response_nonce is the latest one sent for the type is an ACK, or a NACK
//   when error_detail is set ("ACK and NACK semantics"); the server does not resend on
//   either. A request with an older nonce is stale and ignored: "the management server
//   should not send a DiscoveryResponse for any DiscoveryRequest that has a stale nonce"
//   ("Resource updates").
import * as crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { log } from '../../log';
import { ResourceKind, WILDCARD } from './kinds';
import { MeshResource } from './mesh';
import { Msg } from './service';
import { MeshStore } from './store';
import { StatusRegistry, TypeStatus, recordAck, recordNack } from './status';
import { AdsStreamBase, namesForLog } from './stream_base';

interface SotwType {
  readonly kind: ResourceKind;
  names: Set<string>;
  wildcard: boolean;
  /** True while every request for the type had an empty name list (legacy wildcard). */
  onlyEmpty: boolean;
  sent?: { version: string; nonce: string };
  readonly status: TypeStatus;
}

/** The version of a response: a hash of the names and versions of what it holds. */
export function responseVersion(resources: readonly MeshResource[]): string {
  const h = crypto.createHash('sha256');
  for (const r of resources) h.update(`${r.name}@${r.version};`);
  return h.digest('hex').slice(0, 12);
}

export class SotwStream extends AdsStreamBase<SotwType> {
  constructor(call: grpc.ServerDuplexStream<Msg, Msg>, store: MeshStore, registry: StatusRegistry) {
    super('sotw', call, store, registry);
  }

  protected override newType(kind: ResourceKind, status: TypeStatus): SotwType {
    return { kind, names: new Set(), wildcard: false, onlyEmpty: true, status };
  }

  protected override onTypeRequest(st: SotwType, req: Msg, first: boolean): void {
    const url = st.kind.typeUrl;
    const nonce: string = req.response_nonce ?? '';
    if (st.sent && nonce !== '' && nonce !== st.sent.nonce) {
      if (log.enabled('debug')) log.debug('stale nonce ignored', { stream: this.status.id, type: url, nonce, latest: st.sent.nonce });
      return;
    }
    if (st.sent && nonce === st.sent.nonce) {
      if (req.error_detail) recordNack(this.status, st.status, st.sent.version, nonce, req.error_detail);
      else recordAck(this.status, st.status, req.version_info ?? '', nonce);
    }
    const changed = this.subscribe(st, (req.resource_names ?? []) as string[]);
    // Listener/Cluster: a response lets the client learn a newly named resource is absent.
    if (first || (changed && st.kind.wildcard)) this.respond(st, true);
    else if (changed) this.respond(st, false);
  }

  /** Replaces the subscription with `names`; returns whether it changed. */
  private subscribe(st: SotwType, names: string[]): boolean {
    if (names.length > 0) st.onlyEmpty = false;
    const wildcard = names.includes(WILDCARD) || (st.kind.wildcard && st.onlyEmpty);
    const next = new Set(names.filter((n) => n !== WILDCARD));
    const changed = wildcard !== st.wildcard || next.size !== st.names.size || [...next].some((n) => !st.names.has(n));
    st.wildcard = wildcard;
    st.names = next;
    st.status.subscribed = [...(wildcard ? [WILDCARD] : []), ...[...next].sort()];
    return changed;
  }

  private select(st: SotwType): MeshResource[] {
    const byName = this.group?.resources.get(st.kind.typeUrl) ?? new Map<string, MeshResource>();
    const out: MeshResource[] = [];
    for (const r of byName.values()) if (st.wildcard || st.names.has(r.name)) out.push(r);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Sends the type's full subscribed set, unless `force` is off and it equals what was last sent. */
  protected override respond(st: SotwType, force: boolean): void {
    const resources = this.select(st);
    const version = responseVersion(resources);
    if (!force && st.sent?.version === version) return;
    const nonce = this.nextNonce();
    st.sent = { version, nonce };
    st.status.last_sent_version = version;
    st.status.last_sent_nonce = nonce;
    if (log.enabled('debug')) {
      log.debug('sending', { stream: this.status.id, type: st.kind.short, version, nonce, count: resources.length, names: namesForLog(resources.map((r) => r.name)) });
    }
    this.call.write({ version_info: version, resources: resources.map((r) => r.any), type_url: st.kind.typeUrl, nonce });
  }
}
