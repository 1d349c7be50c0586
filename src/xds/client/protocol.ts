// What the two variants of the protocol (sotw.ts, delta.ts) share: the context they run in
// (the watches, a way to send and to reset the stream, and a report of each (N)ACK) and
// the protobuf codec for their messages, built from the Envoy protos Switchyard loads.
import * as protobuf from 'protobufjs';
import { decodeExact } from '../proto/binary';
import { mustLookupType } from '../proto/root';
import { WatchState } from './watch_state';

/** A request or response as protobufjs objects (proto field names). */
export type Msg = { [k: string]: any };

/** google.rpc.Code INVALID_ARGUMENT: what Envoy puts in a NACK's error_detail. */
export const INVALID_ARGUMENT = 3;

export interface ResponseReport {
  readonly typeUrl: string;
  readonly nonce: string;
  /** The response's version. */
  readonly versionInfo: string;
  readonly t: 'ack' | 'nack';
  readonly details?: string;
}

export interface ProtocolContext {
  readonly watches: ReadonlyMap<string, WatchState>;
  /** Encodes and writes a request; the first one of each stream gets the node. */
  send(req: Msg): void;
  /** Drops the stream (it will reconnect): for a response that cannot be made sense of. */
  reset(reason: string): void;
  report(r: ResponseReport): void;
}

export interface Protocol {
  /** A new stream is open: (re)subscribe every watch. */
  onOpen(): void;
  /** One response's bytes. */
  onResponse(bytes: Buffer): void;
  /** A watch was added (first request for its type on this stream). */
  watched(w: WatchState): void;
  /** A watch's names changed from `before` (already applied to w). */
  namesChanged(w: WatchState, diff: { subscribe: string[]; unsubscribe: string[] }): void;
  /** A watch was removed. */
  unwatched(w: WatchState): void;
}

export class Codec {
  private readonly req: protobuf.Type;
  private readonly res: protobuf.Type;

  constructor(reqName: 'DiscoveryRequest' | 'DeltaDiscoveryRequest', resName: 'DiscoveryResponse' | 'DeltaDiscoveryResponse') {
    this.req = mustLookupType(`envoy.service.discovery.v3.${reqName}`);
    this.res = mustLookupType(`envoy.service.discovery.v3.${resName}`);
  }

  encode(m: Msg): Buffer {
    return Buffer.from(this.req.encode(this.req.fromObject(m)).finish());
  }

  /** Throws on bytes that are not a response. */
  decode(b: Uint8Array): Msg {
    return this.res.toObject(decodeExact(this.res, b) as protobuf.Message, { longs: Number, arrays: true }) as Msg;
  }

  /** For tests: decode a request this codec encoded. */
  decodeRequest(b: Uint8Array): Msg {
    return this.req.toObject(this.req.decode(b), { longs: Number, arrays: true }) as Msg;
  }
}

