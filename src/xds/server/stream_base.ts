// What every ADS stream does, state of the world (sotw.ts) and incremental (delta.ts) alike:
// it lists itself in the StatusRegistry for GET /status, follows the MeshStore, learns the
// node (and so its mesh group) from the first request, drops requests for types this server
// does not serve, and tidies up exactly once when the call ends however it ends. The two
// variants differ only in what they keep per type URL and how they answer a request or a
// mesh change, which they supply as newType, onTypeRequest and respond.
import * as grpc from '@grpc/grpc-js';
import { log } from '../../log';
import { KINDS, ResourceKind, kindOf } from './kinds';
import { MeshGroup, groupFor } from './mesh';
import { Msg } from './service';
import { MeshState, MeshStore } from './store';
import { StatusRegistry, StreamStatus, TypeStatus, typeStatus } from './status';

/** T is the variant's per-type-URL state. */
const LOGGED_NAMES = 10;

/** Resource names for a debug line: all of a short list, else the first few and how many more (a 5,000-name line helps nobody). */
export function namesForLog(names: readonly string[]): string[] {
  if (names.length <= LOGGED_NAMES) return names as string[];
  return [...names.slice(0, LOGGED_NAMES), `... ${names.length - LOGGED_NAMES} more`];
}

export abstract class AdsStreamBase<T> {
  protected readonly types = new Map<string, T>();
  protected readonly status: StreamStatus;
  /** The mesh group serving the node; set once the node is known. */
  protected group: MeshGroup | undefined;
  private node: { id?: string; cluster?: string } | undefined;
  private nonces = 0;
  private closed = false;
  private readonly onChange = (s: MeshState) => this.meshChanged(s);

  constructor(
    api: 'sotw' | 'delta',
    protected readonly call: grpc.ServerDuplexStream<Msg, Msg>,
    protected readonly store: MeshStore,
    private readonly registry: StatusRegistry,
  ) {
    this.status = registry.open(api, call.getPeer());
    store.on('change', this.onChange);
    call.on('data', (req: Msg) => this.onRequest(req));
    call.on('end', () => this.close(true));
    call.on('error', () => this.close(false));
    call.on('cancelled', () => this.close(false));
  }

  /** The state for a type URL the client names for the first time on this stream. */
  protected abstract newType(kind: ResourceKind, status: TypeStatus): T;

  /** Handles a request for a served type; `first` when it is the type's first request. */
  protected abstract onTypeRequest(t: T, req: Msg, first: boolean): void;

  /** Sends the type what changed; `force` sends even when nothing did. */
  protected abstract respond(t: T, force: boolean): void;

  /** A fresh nonce: every response on the stream gets its own. */
  protected nextNonce(): string {
    return String(++this.nonces);
  }

  private close(endCall: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.store.off('change', this.onChange);
    this.registry.close(this.status);
    if (endCall) this.call.end();
    log.info('xds stream closed', { stream: this.status.id, api: this.status.api, node: this.status.node_id });
  }

  private identify(node: Msg): void {
    this.node = { id: node.id ?? '', cluster: node.cluster ?? '' };
    this.status.node_id = this.node.id ?? '';
    this.status.node_cluster = this.node.cluster ?? '';
    this.group = groupFor(this.store.current.mesh, this.node);
    this.status.group = this.group.label;
    log.info('xds stream opened', { stream: this.status.id, api: this.status.api, node: this.status.node_id, cluster: this.status.node_cluster, group: this.group.label, peer: this.status.peer });
  }

  private onRequest(req: Msg): void {
    if (this.closed) return;
    // Only the first request must carry the node (xDS protocol doc); later ones may omit it.
    if (!this.node) this.identify(req.node ?? {});
    const url: string = req.type_url ?? '';
    const kind = kindOf(url);
    if (!kind) {
      log.warn('request for a type this server does not serve', { stream: this.status.id, node: this.status.node_id, type: url });
      return;
    }
    let t = this.types.get(url);
    const first = t === undefined;
    if (t === undefined) {
      t = this.newType(kind, typeStatus(this.status, url));
      this.types.set(url, t);
    }
    this.onTypeRequest(t, req, first);
  }

  /** A new mesh may move the node to another group; every subscribed type is re-checked. */
  private meshChanged(s: MeshState): void {
    if (this.closed || !this.node) return;
    this.group = groupFor(s.mesh, this.node);
    this.status.group = this.group.label;
    for (const k of KINDS) {
      const t = this.types.get(k.typeUrl);
      if (t) this.respond(t, false);
    }
  }
}
