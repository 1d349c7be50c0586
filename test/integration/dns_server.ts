// A small authoritative DNS server over UDP for the tests (RFC 1035 wire format): it answers
// A queries for the names it is given, NODATA for other types of those names, NXDOMAIN for
// the rest, after a delay if one is set for the name, and counts every query it gets. The proxy reaches it through the system resolver
// (getaddrinfo), with /etc/resolv.conf bind-mounted in a mount namespace of its own
// (`resolverWrap`), so nothing outside the test's processes sees it.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { tempFile, trackResource } from './harness';

export interface DnsServer {
  address: string;
  /** A records by name (lower case, no trailing dot); change them at any time. */
  records: Map<string, string[]>;
  /** How long to hold the answers for a name, in ms (none: at once). */
  delays: Map<string, number>;
  /** Queries seen: `name type`, e.g. `web.test A`. */
  queries: string[];
  count(name: string, type?: string): number;
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA' };

/** Starts the server on `address`:53 (a loopback address of its own, so port 53 is free there). */
export function startDnsServer(address: string, records: Record<string, string[]>): Promise<DnsServer> {
  const srv: DnsServer = {
    address,
    records: new Map(Object.entries(records)),
    delays: new Map(),
    queries: [],
    count(name, type) {
      return this.queries.filter((q) => q === `${name} ${type ?? 'A'}` || (type === undefined && q.startsWith(name + ' '))).length;
    },
  };
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = parseQuery(msg);
    if (q === null) return;
    const type = TYPES[q.qtype] ?? String(q.qtype);
    if (srv.queries.length < 10_000) srv.queries.push(`${q.name} ${type}`);
    const ips = srv.records.get(q.name);
    const reply = answer(msg, q.end, ips === undefined ? 3 : 0, q.qtype === 1 ? ips ?? [] : []);
    const send = () => {
      try {
        sock.send(reply, rinfo.port, rinfo.address, () => undefined);
      } catch {
        // closed at the end of the test while an answer was held
      }
    };
    const delay = srv.delays.get(q.name);
    if (delay === undefined) send();
    else setTimeout(send, delay).unref();
  });
  return new Promise((resolve, reject) => {
    sock.once('error', (e) => reject(new Error(`DNS test server cannot bind ${address}:53: ${e.message}`)));
    sock.bind(53, address, () => {
      trackResource(() => new Promise<void>((r) => sock.close(() => r())));
      resolve(srv);
    });
  });
}

/** The question of a standard query: its name, type and where the question section ends. */
function parseQuery(msg: Buffer): { name: string; qtype: number; end: number } | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const n = msg[i];
    if (n > 63 || i + 1 + n > msg.length) return null;
    labels.push(msg.toString('latin1', i + 1, i + 1 + n));
    i += 1 + n;
  }
  if (i + 5 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), qtype: msg.readUInt16BE(i + 1), end: i + 5 };
}

/** The response to `query`: its header and question, `rcode`, and an A record per address (TTL 0). */
function answer(query: Buffer, questionEnd: number, rcode: number, ips: string[]): Buffer {
  const head = Buffer.from(query.subarray(0, questionEnd));
  // QR, the query's opcode and RD, AA; RA; rcode. One question, `ips.length` answers.
  head[2] = 0x80 | (query[2] & 0x79) | 0x04;
  head[3] = 0x80 | rcode;
  head.writeUInt16BE(ips.length, 6);
  head.writeUInt32BE(0, 8);
  const records = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, k) => (rr[12 + k] = Number(o)));
    return rr;
  });
  return Buffer.concat([head, ...records]);
}

/**
 * A command prefix that runs a program in a mount namespace of its own whose
 * /etc/resolv.conf names only `server` (one attempt, three-second timeout).
 */
export function resolverWrap(server: DnsServer): string[] {
  if (net.isIPv4(server.address) === false) throw new Error('IPv4 server address expected');
  const conf = tempFile('resolv.conf', `nameserver ${server.address}\noptions attempts:1 timeout:3\n`);
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', conf];
}
