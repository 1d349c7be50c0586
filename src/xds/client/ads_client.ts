// AdsClient: one Aggregated Discovery Service stream to a management server, SotW or Delta
// (chosen at construction), carrying every watched type URL (xDS protocol doc, "Aggregated
// Discovery Service"). It owns the watches and the stream, and hands each protocol variant
// a small context; it never drops a handler's resources because the stream broke — the
// last accepted config keeps serving until the server says otherwise (protocol doc:
// "the last valid configuration ... will continue to apply").
//
//   const ads = new AdsClient({ target: '127.0.0.1:18000', api: 'delta', node });
//   ads.watch(TYPE_URLS.CDS, '*', clusterManager);
//   ads.watch(TYPE_URLS.EDS, ['c1'], endpoints);
//   await ads.ready(TYPE_URLS.CDS);           // initial_fetch_timeout: warming
//   ads.updateWatch(TYPE_URLS.EDS, ['c1', 'c2']);
//   ads.configDump();                          // for /config_dump
//   await ads.close();
import { EventEmitter } from 'node:events';
import * as protobuf from 'protobufjs';
import { NodeInfo } from '../../config/types';
import { log } from '../../log';
import { lookupType } from '../proto/root';
import { typeName } from '../proto/canonical';
import { Backoff, BackoffOptions } from './backoff';
import { DeltaProtocol } from './delta';
import { NodeOptions, nodeMessage } from './node';
import { Msg, Protocol, ProtocolContext, ResponseReport } from './protocol';
import { SotwProtocol } from './sotw';
import { AdsTransport } from './transport';
import { ReadyResult, StreamStateView, TypeDump, WatchHandler, WatchNames, WatchOptions, XdsApi } from './types';
import { WatchState, defaultNames } from './watch_state';

export interface AdsClientOptions extends NodeOptions {
  /** The management server, `host:port` (insecure channel for now). */
  target: string;
  api: XdsApi;
  node: NodeInfo;
  backoff?: BackoffOptions;
}

/**
 * Events: 'state' (StreamStateView) on every stream state change; 'ack' and 'nack'
 * (ResponseReport) after each response is answered.
 */
export class AdsClient extends EventEmitter {
  readonly api: XdsApi;
  private readonly watches = new Map<string, WatchState>();
  private readonly transport: AdsTransport;
  private readonly protocol: Protocol & { codec: { encode(m: Msg): Buffer } };
  private readonly node: protobuf.Message;
  private nodeSent = false;
  private closed = false;

  constructor(private readonly opts: AdsClientOptions) {
    super();
    this.api = opts.api;
    this.node = nodeMessage(opts.node, opts);
    const ctx: ProtocolContext = {
      watches: this.watches,
      send: (req) => this.send(req),
      reset: (reason) => {
        log.warn('resetting the xds stream', { reason });
        this.transport.reset(reason);
      },
      report: (r: ResponseReport) => this.emit(r.t, r),
    };
    this.protocol = opts.api === 'sotw' ? new SotwProtocol(ctx) : new DeltaProtocol(ctx);
    this.transport = new AdsTransport(opts.target, opts.api, new Backoff(opts.backoff), {
      onOpen: () => {
        this.nodeSent = false;
        this.protocol.onOpen();
      },
      onMessage: (b) => this.onMessage(b),
      onState: (v) => this.emit('state', v),
    });
  }

  /**
   * Subscribes to `typeUrl`. `names` defaults to the wildcard for Listener and Cluster and
   * must be given for the others (protocol doc: wildcard is only for Listener, Cluster and
   * ScopedRouteConfiguration). The stream opens with the first watch.
   */
  watch(typeUrl: string, names: WatchNames | undefined, handler: WatchHandler, opts: WatchOptions = {}): void {
    if (this.closed) throw new Error('AdsClient is closed');
    if (this.watches.has(typeUrl)) throw new Error(`${typeUrl} is already watched; use updateWatch`);
    if (!lookupType(typeName(typeUrl))) throw new Error(`cannot watch ${typeUrl}: the type is not among the loaded protos`);
    const n = names ?? defaultNames(typeUrl);
    if (n === undefined) throw new Error(`${typeUrl} is subscribed by name: give the names`);
    const w = new WatchState(typeUrl, n, handler, opts.initialFetchTimeoutMs);
    this.watches.set(typeUrl, w);
    if (this.transport.view().t === 'idle') this.transport.start(); // onOpen sends it
    else this.protocol.watched(w);
  }

  /** Replaces the names of a watch; resources that leave it are forgotten by the client. */
  updateWatch(typeUrl: string, names: WatchNames): void {
    const w = this.must(typeUrl);
    const diff = w.setNames(names);
    this.protocol.namesChanged(w, diff);
  }

  unwatch(typeUrl: string): void {
    const w = this.watches.get(typeUrl);
    if (!w) return;
    this.protocol.unwatched(w);
    this.watches.delete(typeUrl);
    w.markReady('timeout');
  }

  /**
   * Resolves when the first response for the watch has been handled (ACKed or NACKed, as
   * Envoy ends warming either way) or its initial_fetch_timeout passed.
   */
  ready(typeUrl: string): Promise<ReadyResult> {
    return this.must(typeUrl).ready;
  }

  state(): StreamStateView {
    return this.transport.view();
  }

  /** Streams opened so far (a reconnect opens another). */
  get streamsOpened(): number {
    return this.transport.streamsOpened;
  }

  /** Per type: last ACKed version_info, resources with versions and last_updated, failures. */
  configDump(): TypeDump[] {
    return [...this.watches.values()].map((w) => w.dump());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    for (const w of this.watches.values()) w.markReady('timeout');
  }

  private must(typeUrl: string): WatchState {
    const w = this.watches.get(typeUrl);
    if (!w) throw new Error(`${typeUrl} is not watched`);
    return w;
  }

  private send(req: Msg): void {
    const first = !this.nodeSent;
    const msg = first ? { ...req, node: this.node } : req;
    if (this.transport.send(this.protocol.codec.encode(msg)) && first) this.nodeSent = true;
    if (log.enabled('debug')) log.debug('xds request', { api: this.api, ...req, ...(first ? { node: this.opts.node.id } : {}) });
  }

  private onMessage(bytes: Buffer): void {
    try {
      this.protocol.onResponse(bytes);
    } catch (e) {
      // A bug in handling must not take the process down; the stream restarts clean.
      log.error('xds response handling failed', { error: e as Error });
      this.transport.reset(`response handling failed: ${(e as Error).message}`);
    }
  }
}
