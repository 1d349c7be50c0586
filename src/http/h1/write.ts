// Coalesced writes for the HTTP/1.1 codecs. A response head followed by a small body goes
// out as one buffer in one write: measured here, that is far cheaper than a corked
// writev of a string and a buffer (Node's writev path allocates per chunk and per call).
import { DEFER_LIMIT, type BatchedWriter } from './write_batch';
import { latin1Write } from '../../util/latin1';

/** Bodies up to this size are copied next to the head; larger ones are written as they are. */
const COALESCE_LIMIT = DEFER_LIMIT;

/**
 * Writes `head` (latin1) + `body` + `tail` (latin1); returns the socket's backpressure
 * signal. With `last` (the message ends here) a small message is held for the end of the
 * poll phase (write_batch.ts).
 */
export function writeHeadAndBody(w: BatchedWriter, head: string, body: Buffer, tail: string, last: boolean): boolean {
  if (body.length > COALESCE_LIMIT) {
    w.write(head);
    w.write(body);
    return tail.length > 0 ? w.write(tail) : !w.socket.writableNeedDrain;
  }
  const buf = Buffer.allocUnsafe(head.length + body.length + tail.length);
  latin1Write(buf, head, 0);
  buf.set(body, head.length);
  if (tail.length > 0) latin1Write(buf, tail, head.length + body.length);
  if (last) {
    w.defer(buf);
    return true;
  }
  return w.write(buf);
}
