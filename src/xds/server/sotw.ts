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
import { KINDS, ResourceKind, WILDCARD, kindOf } from './kinds';
import { MeshGroup, MeshResource, groupFor } from './mesh';
import { Msg } from './service';
import { MeshState, MeshStore } from './store';
import { StatusRegistry, StreamStatus, TypeStatus, recordAck, recordNack, typeStatus } from './status';

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

export class SotwStream {
  private readonly types = new Map<string, SotwType>();
  private readonly status: StreamStatus;
  private group: MeshGroup | undefined;
  private node: { id?: string; cluster?: string } | undefined;
  private nonces = 0;
  private closed = false;
  private readonly onChange = (s: MeshState) => this.meshChanged(s);

  constructor(
    private readonly call: grpc.ServerDuplexStream<Msg, Msg>,
    private readonly store: MeshStore,
    private readonly registry: StatusRegistry,
  ) {
    this.status = registry.open('sotw', call.getPeer());
    store.on('change', this.onChange);
    call.on('data', (req: Msg) => this.onRequest(req));
    call.on('end', () => this.close(true));
    call.on('error', () => this.close(false));
    call.on('cancelled', () => this.close(false));
  }

  private close(endCall: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.store.off('change', this.onChange);
    this.registry.close(this.status);
    if (endCall) this.call.end();
    log.info('xds stream closed', { stream: this.status.id, api: 'sotw', node: this.status.node_id });
  }

  private onRequest(req: Msg): void {
    if (this.closed) return;
    if (!this.node) this.identify(req.node ?? {});
    const url: string = req.type_url ?? '';
    const kind = kindOf(url);
    if (!kind) {
      log.warn('request for a type this server does not serve', { stream: this.status.id, node: this.status.node_id, type: url });
      return;
    }
    let st = this.types.get(url);
    const first = !st;
    if (!st) {
      st = { kind, names: new Set(), wildcard: false, onlyEmpty: true, status: typeStatus(this.status, url) };
      this.types.set(url, st);
    }
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

  private identify(node: Msg): void {
    this.node = { id: node.id ?? '', cluster: node.cluster ?? '' };
    this.status.node_id = this.node.id ?? '';
    this.status.node_cluster = this.node.cluster ?? '';
    this.group = groupFor(this.store.current.mesh, this.node);
    this.status.group = this.group.label;
    log.info('xds stream opened', { stream: this.status.id, api: 'sotw', node: this.status.node_id, cluster: this.status.node_cluster, group: this.group.label, peer: this.status.peer });
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
  private respond(st: SotwType, force: boolean): void {
    const resources = this.select(st);
    const version = responseVersion(resources);
    if (!force && st.sent?.version === version) return;
    const nonce = String(++this.nonces);
    st.sent = { version, nonce };
    st.status.last_sent_version = version;
    st.status.last_sent_nonce = nonce;
    if (log.enabled('debug')) {
      log.debug('sending', { stream: this.status.id, type: st.kind.short, version, nonce, names: resources.map((r) => r.name) });
    }
    this.call.write({ version_info: version, resources: resources.map((r) => r.any), type_url: st.kind.typeUrl, nonce });
  }

  private meshChanged(s: MeshState): void {
    if (this.closed || !this.node) return;
    this.group = groupFor(s.mesh, this.node);
    this.status.group = this.group.label;
    for (const k of KINDS) {
      const st = this.types.get(k.typeUrl);
      if (st) this.respond(st, false);
    }
  }
}
