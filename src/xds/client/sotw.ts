// State-of-the-world ADS (StreamAggregatedResources), the client side of the xDS protocol
// doc (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol):
//
// - Every request carries the full resource_names of its type ('*' for a wildcard watch,
//   "How the client specifies what resources to return"), the last ACKed version_info, and
//   the nonce of the latest response of that type ("ACK and NACK semantics"; a request with
//   an older nonce would be taken as stale by the server).
// - ACK: version_info = the response's version, response_nonce = its nonce. NACK: the
//   previous version_info, the nonce, and error_detail (google.rpc.Status, INVALID_ARGUMENT)
//   listing every bad resource as `name: path: reason`.
// - Nonces belong to a stream: a new stream starts each type with no nonce and the last
//   accepted version_info, so the server can tell what the client already has.
// - Listener/Cluster responses are the whole set; a held resource missing from one was
//   deleted. RDS/EDS/SDS responses need not repeat unchanged resources ("Deleting
//   resources"): see sotwRemovals in watch_state.ts.
// - A response for a type nobody watches is dropped with a warning, as Envoy's GrpcMuxImpl
//   does ("Ignoring the message for type URL ... as it has no current subscribers"): a NACK
//   would be read by the server as a request subscribing the client to that type.
import { log } from '../../log';
import { decodeSotw } from './decode';
import { Codec, INVALID_ARGUMENT, Msg, Protocol, ProtocolContext } from './protocol';
import { WatchState, sotwRemovals } from './watch_state';

export class SotwProtocol implements Protocol {
  readonly codec = new Codec('DiscoveryRequest', 'DiscoveryResponse');

  constructor(private readonly ctx: ProtocolContext) {}

  private request(w: WatchState, names = w.subscribed()): Msg {
    return { type_url: w.typeUrl, version_info: w.versionInfo, response_nonce: w.lastNonce, resource_names: names };
  }

  onOpen(): void {
    for (const w of this.ctx.watches.values()) {
      w.lastNonce = '';
      this.ctx.send(this.request(w));
    }
  }

  watched(w: WatchState): void {
    this.ctx.send(this.request(w));
  }

  namesChanged(w: WatchState): void {
    this.ctx.send(this.request(w));
  }

  /** An empty name list for a non-first request subscribes to nothing of the type. */
  unwatched(w: WatchState): void {
    this.ctx.send(this.request(w, []));
  }

  onResponse(bytes: Buffer): void {
    let res: Msg;
    try {
      res = this.codec.decode(bytes);
    } catch (e) {
      this.ctx.reset(`undecodable DiscoveryResponse: ${(e as Error).message}`);
      return;
    }
    const url: string = res.type_url ?? '';
    const nonce: string = res.nonce ?? '';
    const version: string = res.version_info ?? '';
    const w = this.ctx.watches.get(url);
    if (!w) {
      log.warn('ignoring a response for a type nobody watches', { type: url, version, nonce });
      return;
    }
    w.lastNonce = nonce;
    const batch = decodeSotw(url, res.resources ?? [], version);
    const outcome = w.commit(version, nonce, batch, sotwRemovals(url, w.accepted.keys(), batch));
    if (outcome.t === 'ack') {
      this.ctx.send(this.request(w));
      this.ctx.report({ typeUrl: url, nonce, versionInfo: version, t: 'ack' });
    } else {
      this.ctx.send({ ...this.request(w), error_detail: { code: INVALID_ARGUMENT, message: outcome.details } });
      log.warn('NACK', { type: url, version, nonce, kept_version: w.versionInfo, details: outcome.details });
      this.ctx.report({ typeUrl: url, nonce, versionInfo: version, t: 'nack', details: outcome.details });
    }
  }
}
