// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1). Feeds on socket
// chunks and hands out zero-copy slices of the data; the size lines, extensions and
// trailers are consumed here.
import { HeaderMap } from '../headers';
import { ParseError, newFraming, parseHeaderLines } from './parse';
import { latin1Slice } from '../../util/latin1';

const enum S {
  Size,
  Data,
  DataCrlf,
  Trailers,
  Done,
}

export interface ChunkSink {
  onChunkData(data: Buffer): void;
  onChunkedEnd(trailers: HeaderMap | null): void;
}

const MAX_LINE = 4096;

export class ChunkedDecoder {
  private s = S.Size;
  private remaining = 0;
  private line = '';
  private trailerLines: string[] | null = null;

  constructor(private readonly sink: ChunkSink) {}

  get done(): boolean {
    return this.s === S.Done;
  }

  /** Consumes bytes from buf[off..]; returns how many were used (stops at the end of the message). */
  feed(buf: Buffer, off: number): number {
    const start = off;
    const len = buf.length;
    while (off < len && this.s !== S.Done) {
      if (this.s === S.Data) {
        const take = Math.min(this.remaining, len - off);
        this.sink.onChunkData(buf.subarray(off, off + take));
        off += take;
        this.remaining -= take;
        if (this.remaining === 0) this.s = S.DataCrlf;
        continue;
      }
      // Line-oriented states: read up to LF.
      const lf = buf.indexOf(10, off);
      const end = lf === -1 ? len : lf;
      this.line += latin1Slice(buf, off, end);
      if (this.line.length > MAX_LINE) throw new ParseError('chunk line too long');
      if (lf === -1) {
        off = len;
        break;
      }
      off = lf + 1;
      let line = this.line;
      this.line = '';
      if (line.endsWith('\r')) line = line.slice(0, -1);
      else throw new ParseError('bare LF in chunked body');
      this.onLine(line);
    }
    return off - start;
  }

  private onLine(line: string): void {
    switch (this.s) {
      case S.Size: {
        const semi = line.indexOf(';');
        const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ParseError('invalid chunk size');
        const n = parseInt(hex, 16);
        if (n === 0) {
          this.s = S.Trailers;
          this.trailerLines = [];
        } else {
          this.remaining = n;
          this.s = S.Data;
        }
        return;
      }
      case S.DataCrlf:
        if (line !== '') throw new ParseError('missing CRLF after chunk data');
        this.s = S.Size;
        return;
      case S.Trailers: {
        if (line !== '') {
          this.trailerLines!.push(line);
          if (this.trailerLines!.length > 100) throw new ParseError('too many trailers');
          return;
        }
        let trailers: HeaderMap | null = null;
        if (this.trailerLines!.length > 0) {
          trailers = new HeaderMap();
          parseHeaderLines(this.trailerLines!, 0, trailers, newFraming());
        }
        this.s = S.Done;
        this.sink.onChunkedEnd(trailers);
        return;
      }
    }
  }
}

/** Frames one chunk: `size\r\n` + data + `\r\n` (as a header string; data written separately). */
export function chunkHeader(n: number): string {
  return n.toString(16) + '\r\n';
}

export const LAST_CHUNK = '0\r\n\r\n';
