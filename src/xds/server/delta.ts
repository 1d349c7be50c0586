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
import { ResourceKind } from './kinds';
import { DeltaSubscription } from './delta_state';
import { MeshResource } from './mesh';
import { Msg } from './service';
import { MeshStore } from './store';
import { StatusRegistry, TypeStatus, recordAck, recordNack } from './status';
import { AdsStreamBase, namesForLog } from './stream_base';

interface DeltaType {
  readonly kind: ResourceKind;
  readonly sub: DeltaSubscription;
  readonly status: TypeStatus;
  /** nonce → system_version_info of responses not yet (N)ACKed. */
  readonly pending: Map<string, string>;
}

const EMPTY = new Map<string, MeshResource>();

export class DeltaStream extends AdsStreamBase<DeltaType> {
  constructor(call: grpc.ServerDuplexStream<Msg, Msg>, store: MeshStore, registry: StatusRegistry) {
    super('delta', call, store, registry);
  }

  protected override newType(kind: ResourceKind, status: TypeStatus): DeltaType {
    return { kind, sub: new DeltaSubscription(kind.wildcard), status, pending: new Map() };
  }

  protected override onTypeRequest(dt: DeltaType, req: Msg, first: boolean): void {
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
  protected override respond(dt: DeltaType, always: boolean): void {
    const available = this.group?.resources.get(dt.kind.typeUrl) ?? EMPTY;
    const d = dt.sub.diff(available);
    if (!always && d.send.length === 0 && d.removed.length === 0) {
      dt.sub.commit(d, available);
      return;
    }
    const nonce = this.nextNonce();
    const version = String(this.store.current.generation);
    dt.pending.set(nonce, version);
    // A client that never (N)ACKs must not grow this without bound.
    if (dt.pending.size > 64) dt.pending.delete(dt.pending.keys().next().value!);
    dt.sub.commit(d, available);
    dt.status.last_sent_version = version;
    dt.status.last_sent_nonce = nonce;
    dt.status.resource_versions = Object.fromEntries([...dt.sub.known].sort());
    if (log.enabled('debug')) log.debug('sending delta', { stream: this.status.id, type: dt.kind.short, nonce, count: d.send.length, send: namesForLog(d.send), removed: namesForLog(d.removed) });
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
}
