// Incremental ADS (DeltaAggregatedResources), the client side of "Incremental xDS" in the
// xDS protocol doc (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds)
// and the DeltaDiscoveryRequest comments in envoy/service/discovery/v3/discovery.proto:
//
// - Subscriptions are changes: resource_names_subscribe / _unsubscribe carry only what
//   changed ('*' for the wildcard); a request with empty lists changes nothing.
// - Each response is ACKed by its nonce alone, or NACKed with the nonce and error_detail.
//   Resources carry their own version; removed_resources names deleted ones.
// - On a new stream, the first request of each type subscribes to everything again and
//   declares initial_resource_versions (what the client accepted, name → version), so the
//   server resends only what changed meanwhile and reports what was deleted.
// - A response for a type nobody watches is dropped with a warning (Envoy's NewGrpcMuxImpl:
//   "Dropping received DeltaDiscoveryResponse ... for non-existent subscription").
import { log } from '../../log';
import { decodeDelta } from './decode';
import { Codec, INVALID_ARGUMENT, Msg, Protocol, ProtocolContext } from './protocol';
import { WatchState } from './watch_state';

export class DeltaProtocol implements Protocol {
  readonly codec = new Codec('DeltaDiscoveryRequest', 'DeltaDiscoveryResponse');

  constructor(private readonly ctx: ProtocolContext) {}

  private first(w: WatchState): Msg {
    return { type_url: w.typeUrl, resource_names_subscribe: w.subscribed(), initial_resource_versions: w.heldVersions() };
  }

  onOpen(): void {
    for (const w of this.ctx.watches.values()) this.ctx.send(this.first(w));
  }

  watched(w: WatchState): void {
    this.ctx.send(this.first(w));
  }

  namesChanged(w: WatchState, diff: { subscribe: string[]; unsubscribe: string[] }): void {
    if (diff.subscribe.length === 0 && diff.unsubscribe.length === 0) return;
    this.ctx.send({ type_url: w.typeUrl, resource_names_subscribe: diff.subscribe, resource_names_unsubscribe: diff.unsubscribe });
  }

  unwatched(w: WatchState): void {
    const names = w.subscribed();
    if (names.length) this.ctx.send({ type_url: w.typeUrl, resource_names_unsubscribe: names });
  }

  onResponse(bytes: Buffer): void {
    let res: Msg;
    try {
      res = this.codec.decode(bytes);
    } catch (e) {
      this.ctx.reset(`undecodable DeltaDiscoveryResponse: ${(e as Error).message}`);
      return;
    }
    const url: string = res.type_url ?? '';
    const nonce: string = res.nonce ?? '';
    const version: string = res.system_version_info ?? '';
    const w = this.ctx.watches.get(url);
    if (!w) {
      log.warn('ignoring a delta response for a type nobody watches', { type: url, version, nonce });
      return;
    }
    const batch = decodeDelta(url, res.resources ?? []);
    const outcome = w.commit(version, nonce, batch, (res.removed_resources ?? []) as string[]);
    if (outcome.t === 'ack') {
      this.ctx.send({ type_url: url, response_nonce: nonce });
      this.ctx.report({ typeUrl: url, nonce, versionInfo: version, t: 'ack' });
    } else {
      this.ctx.send({ type_url: url, response_nonce: nonce, error_detail: { code: INVALID_ARGUMENT, message: outcome.details } });
      log.warn('NACK', { type: url, version, nonce, details: outcome.details });
      this.ctx.report({ typeUrl: url, nonce, versionInfo: version, t: 'nack', details: outcome.details });
    }
  }
}
