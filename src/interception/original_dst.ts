// The original destination of an intercepted connection: Envoy's
// envoy.filters.listener.original_dst (getsockopt SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST for
// IPv6), through the interception addon.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/listener_filters/original_dst_filter
import type { Socket } from 'node:net';
import { interceptionAddon } from './native';

export interface OriginalDst {
  address: string;
  port: number;
  family: 4 | 6;
}

interface WithHandle {
  _handle?: { fd?: number } | null;
  _parent?: WithHandle | null;
}

/**
 * The socket's file descriptor, or -1 when it has none (closed, or not fd-backed). This is the
 * one place Switchyard reads Node's private `_handle.fd`; a TLSSocket made from a net.Socket
 * answers with that socket's fd.
 */
export function socketFd(socket: Socket): number {
  let s = socket as unknown as WithHandle | null | undefined;
  for (let i = 0; i < 2 && s != null; i++) {
    const fd = s._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) return fd;
    s = s._parent;
  }
  return -1;
}

/**
 * Where the client meant to connect before iptables REDIRECTed it here, or null when the
 * connection was not redirected (no conntrack entry, conntrack not in use, or the entry's
 * destination is the socket's own local address) — the caller then keeps the socket's local
 * address. One getsockname and one getsockopt; never throws for an ordinary accepted socket
 * (a socket with no fd gives null).
 *
 * An IPv4 client on a dual-stack (`::`) listener is looked up with the IPv4 call, as Envoy does,
 * and comes back as family 4 with a dotted address (not `::ffff:a.b.c.d`).
 */
export function originalDst(socket: Socket): OriginalDst | null {
  const fd = socketFd(socket);
  if (fd < 0) return null;
  return interceptionAddon().originalDst(fd);
}
