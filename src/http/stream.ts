// The codec-neutral stream model shared by HTTP/1.1 and HTTP/2 (Envoy's
// StreamEncoder/StreamDecoder split). A codec turns bytes into these calls; the
// connection manager and router only ever see these interfaces, so any downstream
// protocol can be proxied to any upstream protocol.
import type { ConnectionInfo } from '../listeners/connection_info';
import type { HeaderMap } from './headers';

export type HttpProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

export interface RequestHead {
  method: string;
  /** :path — path and query as received. */
  path: string;
  /** :authority / Host. */
  authority: string;
  scheme: 'http' | 'https';
  protocol: HttpProtocol;
  headers: HeaderMap;
}

export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

/** Why a stream ended abnormally; maps onto Envoy's response flags. */
export type ResetReason =
  | 'connect_failure' // UF
  | 'connection_termination' // UC (upstream closed)
  | 'remote_reset' // UR
  | 'local_reset'
  | 'refused_stream'
  | 'overflow' // UO
  | 'protocol_error'
  | 'timeout';

/** Events for a request body, set by the connection manager on a downstream stream. */
export interface RequestBodySink {
  onRequestData(chunk: Buffer, endStream: boolean): void;
  onRequestTrailers(trailers: HeaderMap): void;
  /** The downstream went away (client disconnect, RST_STREAM). */
  onDownstreamReset(reason: ResetReason): void;
  /** The downstream can take more response bytes again after sendData returned false. */
  onDownstreamDrain(): void;
}

/** One request/response exchange on a downstream connection, as the codec presents it. */
export interface DownstreamStream {
  readonly head: RequestHead;
  /** True when the request had no body (GET without content, HEADERS with END_STREAM). */
  readonly requestEnded: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The local address as the listener filters left it (the original destination when restored). */
  readonly localAddress: string;
  readonly localPort: number;
  /** What the listener learned about the connection (undefined when it did not come through one). */
  readonly connectionInfo: ConnectionInfo | undefined;
  sink: RequestBodySink | null;

  sendHeaders(head: ResponseHead, endStream: boolean): void;
  /** Returns false when the downstream is backed up; wait for onDownstreamDrain. */
  sendData(chunk: Buffer, endStream: boolean): boolean;
  sendTrailers(trailers: HeaderMap): void;
  /** Abort the stream (HTTP/1.1: close the connection; HTTP/2: RST_STREAM). */
  reset(): void;
  /** Flow control on the request body. */
  pauseRequest(): void;
  resumeRequest(): void;
  /** Ask the codec to close the connection after this response (drain, Connection: close). */
  closeAfterResponse(): void;
}

/** Events from an upstream request, set by the router. */
export interface UpstreamResponseSink {
  onResponseHeaders(head: ResponseHead, endStream: boolean): void;
  onResponseData(chunk: Buffer, endStream: boolean): void;
  onResponseTrailers(trailers: HeaderMap): void;
  onUpstreamReset(reason: ResetReason, detail?: string): void;
  /** The upstream can take more request bytes again after sendData returned false. */
  onUpstreamDrain(): void;
  /** 1xx informational response (100 Continue). */
  onInformational?(head: ResponseHead): void;
}

/** A request on an upstream connection (from a pool), as the router drives it. */
export interface UpstreamStream {
  sendHeaders(head: RequestHead, endStream: boolean): void;
  sendData(chunk: Buffer, endStream: boolean): boolean;
  sendTrailers(trailers: HeaderMap): void;
  reset(): void;
  pauseResponse(): void;
  resumeResponse(): void;
}
