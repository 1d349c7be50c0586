// The node:http2 stream events that the downstream (server_stream.ts) and upstream
// (client_stream.ts) sides handle the same way: body data, trailers, end, drain,
// wantTrailers and close. The handlers are shared module-level functions that find their
// owner through a symbol on the node:http2 stream, so a stream costs one object rather than
// a closure per event (design convention 6). A node:http2 stream belongs to one side only,
// so both sides can use the one symbol.
import * as http2 from 'node:http2';
import type { H2HeaderObject } from './headers';

export const OWNER = Symbol('switchyard.h2.stream');

/** What a stream object implements to receive its node:http2 stream's events. */
export interface H2StreamEvents {
  onData(chunk: Buffer): void;
  onTrailers(raw: string[]): void;
  onEnd(): void;
  onDrain(): void;
  onWantTrailers(): void;
  onClose(): void;
}

/** A node:http2 stream carrying its owner. */
export type Tagged<S extends http2.Http2Stream, T extends H2StreamEvents> = S & { [OWNER]?: T };

/** Tags `stream` with `owner` and routes the shared events to it. */
export function bindStreamEvents(stream: http2.Http2Stream, owner: H2StreamEvents): void {
  (stream as Tagged<http2.Http2Stream, H2StreamEvents>)[OWNER] = owner;
  stream.on('data', onData);
  stream.on('trailers', onTrailers);
  stream.on('end', onEnd);
  stream.on('drain', onDrain);
  stream.on('wantTrailers', onWantTrailers);
  stream.on('close', onClose);
}

const NO_TRAILERS: H2HeaderObject = {};

/**
 * Answers 'wantTrailers' (the stream was opened with waitForTrailers) with the trailers held
 * back for it. None held sends empty trailers, which make node:http2 end the stream with an
 * empty DATA frame instead. Returns false when node:http2 refused them; the caller resets.
 */
export function sendHeldTrailers(stream: http2.Http2Stream | null, held: H2HeaderObject | null): boolean {
  try {
    stream?.sendTrailers(held ?? NO_TRAILERS);
    return true;
  } catch {
    return false;
  }
}

type Owned = Tagged<http2.Http2Stream, H2StreamEvents>;

function onData(this: Owned, chunk: Buffer): void {
  this[OWNER]?.onData(chunk);
}
function onTrailers(this: Owned, _h: unknown, _flags: number, raw: string[]): void {
  this[OWNER]?.onTrailers(raw);
}
function onEnd(this: Owned): void {
  this[OWNER]?.onEnd();
}
function onDrain(this: Owned): void {
  this[OWNER]?.onDrain();
}
function onWantTrailers(this: Owned): void {
  this[OWNER]?.onWantTrailers();
}
function onClose(this: Owned): void {
  this[OWNER]?.onClose();
}
