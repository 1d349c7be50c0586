// What is known about a downstream connection once the listener filters ran: its addresses
// (the local one restored to the original destination by original_dst), and what the
// inspectors found (SNI, ALPN, TLS or not). Filter-chain matching reads it; so do the
// terminal filters (ORIGINAL_DST clusters connect to `localAddress:localPort`, and
// original_src binds the upstream to `remoteAddress`). It rides on the socket under a
// symbol, set once per connection, so the HTTP and TCP paths can reach it without
// threading it through every call.
import type { Socket } from 'node:net';

export interface ConnectionInfo {
  /** The local address, or the original destination when original_dst restored it. */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** True when original_dst found a redirected connection's original destination. */
  localRestored: boolean;
  /** From tls_inspector; '' when unknown. */
  serverName: string;
  /** 'raw_buffer' or 'tls' (from tls_inspector). */
  transportProtocol: string;
  /** ALPN from tls_inspector, or ['http/1.1'] / ['h2c'] from http_inspector. */
  applicationProtocols: string[];
  /** Filter state set by envoy.filters.network.set_filter_state (string objects by key). */
  filterState?: Map<string, string>;
  /** original_src: bind upstream connections to the downstream's source address (and port). */
  originalSrc?: { bindPort: boolean; mark: number };
}

const INFO = Symbol('switchyard.connectionInfo');

export function connectionInfoFromSocket(s: Socket): ConnectionInfo {
  return {
    localAddress: unmapV4(s.localAddress ?? ''),
    localPort: s.localPort ?? 0,
    remoteAddress: unmapV4(s.remoteAddress ?? ''),
    remotePort: s.remotePort ?? 0,
    localRestored: false,
    serverName: '',
    transportProtocol: 'raw_buffer',
    applicationProtocols: [],
  };
}

export function attachConnectionInfo(s: Socket, info: ConnectionInfo): void {
  (s as unknown as Record<symbol, ConnectionInfo>)[INFO] = info;
}

/** The info the listener attached, if the socket came through a listener. */
export function connectionInfo(s: Socket): ConnectionInfo | undefined {
  return (s as unknown as Record<symbol, ConnectionInfo | undefined>)[INFO];
}

/** The downstream's local address as Envoy sees it (restored by original_dst when redirected). */
export function downstreamLocalAddress(s: Socket): string {
  return connectionInfo(s)?.localAddress ?? s.localAddress ?? '';
}

/** `::ffff:10.0.0.1` → `10.0.0.1` (an IPv4 peer on a dual-stack socket). */
export function unmapV4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
