// One incremental ADS stream (DeltaAggregatedResources). Subscription bookkeeping lives in
// delta_state.ts; this file pairs it with the wire: per-resource versions are the content
// hashes from the mesh, every response has a fresh nonce, and a request carrying a nonce
// ACKs (or, with error_detail, NACKs) that response. Unlike state of the world, a delta
// request's subscribe/unsubscribe lists are changes, so they are applied even when the
// request also (N)ACKs an older response (discovery.proto: "Any DeltaDiscoveryRequest can
// be either or both of: [1] informing the server of what resources the client has
// gained/lost interest in ..., or [2] (N)ACKing an earlier resource update").
import * as grpc from '@grpc/grpc-js';
import { log } from '../../log';
import { KINDS, ResourceKind, kindOf } from './kinds';
import { DeltaSubscription } from './delta_state';
import { MeshGroup, MeshResource, groupFor } from './mesh';
import { Msg } from './service';
import { MeshState, MeshStore } from './store';
import { StatusRegistry, StreamStatus, TypeStatus, recordAck, recordNack, typeStatus } from './status';

interface DeltaType {
  readonly kind: ResourceKind;
  readonly sub: DeltaSubscription;
  readonly status: TypeStatus;
  /** nonce → system_version_info of responses not yet (N)ACKed. */
  readonly pending: Map<string, string>;
}

const EMPTY = new Map<string, MeshResource>();

export class DeltaStream {
  private readonly types = new Map<string, DeltaType>();
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
    this.status = registry.open('delta', call.getPeer());
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
    log.info('xds stream closed', { stream: this.status.id, api: 'delta', node: this.status.node_id });
  }

  private identify(node: Msg): void {
    this.node = { id: node.id ?? '', cluster: node.cluster ?? '' };
    this.status.node_id = this.node.id ?? '';
    this.status.node_cluster = this.node.cluster ?? '';
    this.group = groupFor(this.store.current.mesh, this.node);
    this.status.group = this.group.label;
    log.info('xds stream opened', { stream: this.status.id, api: 'delta', node: this.status.node_id, cluster: this.status.node_cluster, group: this.group.label, peer: this.status.peer });
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
    let dt = this.types.get(url);
    const first = !dt;
    if (!dt) {
      dt = { kind, sub: new DeltaSubscription(kind.wildcard), status: typeStatus(this.status, url), pending: new Map() };
      this.types.set(url, dt);
    }
    const nonce: string = req.response_nonce ?? '';
    if (nonce !== '') this.ackOrNack(dt, nonce, req.error_detail);
    const subscribe = (req.resource_names_subscribe ?? []) as string[];
    const unsubscribe = (req.resource_names_unsubscribe ?? []) as string[];
    dt.sub.apply({ subscribe, unsubscribe, initial: (req.initial_resource_versions ?? {}) as Record<string, string> });
    dt.status.subscribed = dt.sub.subscribed();
    // A wildcard client learns "there is nothing" only from a response, so the first request
    // of a wildcard subscription always gets one.
    if (first || subscribe.length > 0 || unsubscribe.length > 0) this.respond(dt, first && dt.sub.wildcard);
  }

  private ackOrNack(dt: DeltaType, nonce: string, errorDetail: Msg | undefined): void {
    const version = dt.pending.get(nonce);
    if (version === undefined) {
      if (log.enabled('debug')) log.debug('unknown or repeated nonce', { stream: this.status.id, type: dt.kind.short, nonce });
      return;
    }
    // Responses are (N)ACKed in order; older pending nonces will not be answered now.
    for (const n of [...dt.pending.keys()]) {
      dt.pending.delete(n);
      if (n === nonce) break;
    }
    if (errorDetail) recordNack(this.status, dt.status, version, nonce, errorDetail);
    else recordAck(this.status, dt.status, version, nonce);
  }

  /** Sends what the client lacks and what it holds that is gone; nothing if both are empty (unless `always`). */
  private respond(dt: DeltaType, always: boolean): void {
    const available = this.group?.resources.get(dt.kind.typeUrl) ?? EMPTY;
    const d = dt.sub.diff(available);
    if (!always && d.send.length === 0 && d.removed.length === 0) {
      dt.sub.commit(d, available);
      return;
    }
    const nonce = String(++this.nonces);
    const version = String(this.store.current.generation);
    dt.pending.set(nonce, version);
    // A client that never (N)ACKs must not grow this without bound.
    if (dt.pending.size > 64) dt.pending.delete(dt.pending.keys().next().value!);
    dt.sub.commit(d, available);
    dt.status.last_sent_version = version;
    dt.status.last_sent_nonce = nonce;
    dt.status.resource_versions = Object.fromEntries([...dt.sub.known].sort());
    if (log.enabled('debug')) log.debug('sending delta', { stream: this.status.id, type: dt.kind.short, nonce, send: d.send, removed: d.removed });
    this.call.write({
      system_version_info: version,
      type_url: dt.kind.typeUrl,
      nonce,
      resources: d.send.map((name) => {
        const r = available.get(name)!;
        return { name, version: r.version, resource: r.any };
      }),
      removed_resources: d.removed,
    });
  }

  private meshChanged(s: MeshState): void {
    if (this.closed || !this.node) return;
    this.group = groupFor(s.mesh, this.node);
    this.status.group = this.group.label;
    for (const k of KINDS) {
      const dt = this.types.get(k.typeUrl);
      if (dt) this.respond(dt, false);
    }
  }
}
