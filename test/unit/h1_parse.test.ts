// HTTP/1.1 head parsing (parseHeaderBlock scans the head string in place) and the
// x-request-id generator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderMap } from '../../src/http/headers';
import { newFraming, ParseError, parseHeaderBlock, parseHeaderLines } from '../../src/http/h1/parse';
import { randomRequestId } from '../../src/http/request_id';

function parse(head: string, maxCount = 100) {
  const headers = new HeaderMap();
  const fr = newFraming();
  const rl = head.indexOf('\r\n');
  parseHeaderBlock(head, rl === -1 ? head.length : rl + 2, headers, fr, maxCount);
  return { pairs: headers.names.map((n, i) => [n, headers.values[i]]), fr };
}

function fails(head: string, status: number, message: RegExp, maxCount = 100) {
  assert.throws(
    () => parse(head, maxCount),
    (e: unknown) => e instanceof ParseError && e.status === status && message.test(e.message),
  );
}

describe('parseHeaderBlock', () => {
  it('reads names lower-cased and values without surrounding whitespace, in order', () => {
    const { pairs, fr } = parse('GET / HTTP/1.1\r\nHost: a.example\r\nX-A:  one \t\r\nx-a:two\r\nX-Empty:\r\nX-Nbsp: \xa0v\xa0 \r\nContent-Length: 5');
    assert.deepEqual(pairs, [
      ['host', 'a.example'],
      ['x-a', 'one'],
      ['x-a', 'two'],
      ['x-empty', ''],
      ['x-nbsp', 'v'],
      ['content-length', '5'],
    ]);
    assert.equal(fr.contentLength, 5);
  });

  it('lower-cases every spelling of a name, however many share its length', () => {
    const spellings = ['X-Q', 'x-q', 'X-q', 'x-Q', 'X-R', 'x-r', 'Y-Z'];
    const { pairs } = parse('GET / HTTP/1.1\r\n' + spellings.map((n, i) => `${n}: ${i}`).join('\r\n'));
    assert.deepEqual(pairs, spellings.map((n, i) => [n.toLowerCase(), String(i)]));
    // Parsed again (now from the spellings kept per length), and an unseen one next to them.
    const again = parse('GET / HTTP/1.1\r\n' + [...spellings, 'Z-z'].map((n) => `${n}: v`).join('\r\n'));
    assert.deepEqual(again.pairs.map((p) => p[0]), [...spellings, 'Z-z'].map((n) => n.toLowerCase()));
    fails('GET / HTTP/1.1\r\nX-(: v', 400, /invalid header name/);
    // A name longer than the per-length tables keep, twice (the second time from the name cache).
    const long = 'X-' + 'Long'.repeat(20);
    for (let i = 0; i < 2; i++) assert.deepEqual(parse(`GET / HTTP/1.1\r\n${long}: v`).pairs, [[long.toLowerCase(), 'v']]);
  });

  it('accepts a head with no header lines', () => {
    assert.deepEqual(parse('GET / HTTP/1.0').pairs, []);
    assert.deepEqual(parse('HTTP/1.1 200 OK').pairs, []);
  });

  it('keeps whitespace inside a value and colons after the first', () => {
    assert.deepEqual(parse('GET / HTTP/1.1\r\nX-T: a b:c\td').pairs, [['x-t', 'a b:c\td']]);
  });

  it('drops hop-by-hop headers and those named by Connection, noting keep-alive and close', () => {
    const { pairs, fr } = parse('GET / HTTP/1.1\r\nConnection: Keep-Alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nX-Ok: 2');
    assert.deepEqual(pairs, [['x-ok', '2']]);
    assert.equal(fr.keepAlive, true);
    assert.equal(fr.teTrailers, true);
    assert.equal(parse('GET / HTTP/1.1\r\nConnection: close').fr.close, true);
  });

  it('lets Transfer-Encoding: chunked win over Content-Length', () => {
    const { pairs, fr } = parse('POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked');
    assert.deepEqual(pairs, []);
    assert.equal(fr.chunked, true);
    assert.equal(fr.contentLength, -1);
  });

  it('keeps Upgrade only with Connection: upgrade', () => {
    const up = parse('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket');
    assert.equal(up.fr.upgrade, 'websocket');
    assert.deepEqual(up.pairs, [['upgrade', 'websocket']]);
    const no = parse('GET / HTTP/1.1\r\nUpgrade: websocket');
    assert.equal(no.fr.upgrade, '');
    assert.deepEqual(no.pairs, []);
  });

  it('rejects malformed lines, folding, bad names and values, bad lengths', () => {
    fails('GET / HTTP/1.1\r\nNoColon', 400, /malformed header line/);
    fails('GET / HTTP/1.1\r\n: v', 400, /malformed header line/);
    fails('GET / HTTP/1.1\r\nA: 1\r\nB\r\nC: x:y', 400, /malformed header line/);
    fails('GET / HTTP/1.1\r\nA: 1\r\n folded: x', 400, /obsolete line folding/);
    fails('GET / HTTP/1.1\r\nBad Name: 1', 400, /invalid header name/);
    fails('GET / HTTP/1.1\r\nA: x\ny', 400, /invalid header value/);
    fails('GET / HTTP/1.1\r\nA: x\0y', 400, /invalid header value/);
    // A CR or LF other than a line's CRLF, anywhere in a line, also at the end of a value.
    fails('GET / HTTP/1.1\r\nA: x\ry', 400, /invalid header value/);
    fails('GET / HTTP/1.1\r\nA: x\r\r\nB: y', 400, /invalid header value/);
    fails('GET / HTTP/1.1\r\nB: y\r\nA: x\r', 400, /invalid header value/);
    fails('GET / HTTP/1.1\r\nA\nB: x', 400, /invalid header value/);
    fails('GET / HTTP/1.1\r\nContent-Length: 1x', 400, /invalid content-length/);
    fails('GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2', 400, /conflicting content-length/);
    fails('GET / HTTP/1.1\r\nTransfer-Encoding: gzip', 501, /unsupported transfer-encoding/);
  });

  it('counts header lines against the limit before parsing any of them', () => {
    const lines = Array.from({ length: 5 }, (_, i) => `X-${i}: ${i}`);
    assert.equal(parse('GET / HTTP/1.1\r\n' + lines.join('\r\n'), 5).pairs.length, 5);
    fails('GET / HTTP/1.1\r\n' + lines.join('\r\n'), 431, /too many request headers/, 4);
    // Too many lines wins over a malformed one, as when the lines were counted first.
    fails('GET / HTTP/1.1\r\nbad\r\n' + lines.join('\r\n'), 431, /too many request headers/, 5);
  });

  it('parses trailer lines the same way (parseHeaderLines)', () => {
    const h = new HeaderMap();
    parseHeaderLines(['Grpc-Status: 0', 'X-T:  v '], 0, h, newFraming());
    assert.deepEqual([h.names, h.values], [['grpc-status', 'x-t'], ['0', 'v']]);
  });
});

describe('randomRequestId', () => {
  it('makes distinct version-4 UUIDs, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = randomRequestId();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });
});
