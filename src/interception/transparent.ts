// Transparent sockets, which Node cannot make: listeners with Envoy's `transparent: true`
// (IP_TRANSPARENT / IPV6_TRANSPARENT, for iptables TPROXY), and upstream connections whose
// source is a non-local address such as the downstream client's (Envoy's original_src listener
// filter, an ORIGINAL_DST cluster with a transparent upstream_bind_config).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto (transparent, freebind)
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/listener_filters/original_src_filter
// https://docs.kernel.org/networking/tproxy.html
//
// All of it needs CAP_NET_ADMIN (or CAP_NET_RAW); without it the error names the option and
// the capability.
import cluster from 'node:cluster';
import * as net from 'node:net';
import { interceptionAddon, systemError } from './native';
import { socketFd } from './original_dst';

export interface TransparentListenOptions {
  /** IP literal to bind: `0.0.0.0`, `::` (dual-stack unless ipv6Only), or a specific address. */
  host: string;
  port: number;
  /** listen() backlog (default 1024, as the listeners use). */
  backlog?: number;
  /** For an IPv6 host: IPV6_V6ONLY (default false: `::` also takes IPv4). */
  ipv6Only?: boolean;
  /** IP_FREEBIND: bind an address that is not (yet) configured here (Envoy's `freebind`). */
  freebind?: boolean;
}

/**
 * A listening TCP socket for TPROXY: IP_TRANSPARENT (IPv4) or IPV6_TRANSPARENT (IPv6),
 * SO_REUSEADDR, non-blocking, close-on-exec, bound and listening. Serve it with
 * `net.createServer(...).listen({ fd })`; the server owns (and closes) it from then on.
 * Throws an Error with `code` (errno name) and `syscall` when the kernel refuses, e.g.
 * `transparent listener 0.0.0.0:15006: setsockopt IP_TRANSPARENT EPERM: ...; needs CAP_NET_ADMIN`.
 *
 * Not for node:cluster workers: Node hands a worker's listen({ fd }) to the primary, where that
 * fd number means nothing (listen fails with EINVAL). Use listenTransparent there.
 */
export function transparentListenerFd(opts: TransparentListenOptions): number {
  const what = `transparent listener ${hostPort(opts.host, opts.port)}`;
  checkIp(opts.host, what);
  try {
    return interceptionAddon().transparentListen(opts.host, opts.port, opts.backlog ?? 1024, opts.ipv6Only ?? false, opts.freebind ?? false);
  } catch (e) {
    throw systemError(e, what);
  }
}

/**
 * Sets IP(V6)_TRANSPARENT on a server that is already listening (its socket may be shared with
 * other node:cluster workers: the option is on the shared socket). The kernel's TPROXY target
 * checks the flag per packet, so this is enough for a listener bound to a local address; a
 * non-local bind address needs transparentListenerFd (the flag must be set before bind).
 * A TPROXYed SYN that arrives before the flag is set is dropped (the client retransmits it).
 */
export function setListenerTransparent(server: net.Server): void {
  const fd = socketFd(server as unknown as net.Socket);
  const ad = server.address();
  const what = `transparent listener ${ad !== null && typeof ad === 'object' ? hostPort(ad.address, ad.port) : String(ad)}`;
  if (fd < 0) throw new Error(`${what}: the server has no socket of its own (not listening, or a round-robin cluster worker)`);
  try {
    interceptionAddon().setTransparent(fd);
  } catch (e) {
    throw systemError(e, what);
  }
}

/**
 * Makes `server` listen transparently on opts.host:opts.port and resolves once it listens.
 * In a single process (or the cluster primary) the socket is made by transparentListenerFd
 * (flag set before bind, so freebind and non-local addresses work); in a node:cluster worker the
 * server listens as usual (the socket is shared through the primary) and is then made
 * transparent with setListenerTransparent (freebind is refused there). Rejects with the error
 * described above; the server is closed again if it was listening.
 */
export function listenTransparent(server: net.Server, opts: TransparentListenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err: Error | null) => {
      server.off('error', onError);
      if (err === null) resolve();
      else reject(err);
    };
    const onError = (e: Error) => done(e);
    server.once('error', onError);
    if (cluster.isPrimary) {
      let fd: number;
      try {
        fd = transparentListenerFd(opts);
      } catch (e) {
        done(e as Error);
        return;
      }
      server.listen({ fd }, () => done(null));
      return;
    }
    if (opts.freebind) {
      done(new Error(`transparent listener ${hostPort(opts.host, opts.port)}: freebind is not available in a cluster worker`));
      return;
    }
    server.listen({ host: opts.host, port: opts.port, backlog: opts.backlog ?? 1024, ipv6Only: opts.ipv6Only ?? false }, () => {
      try {
        setListenerTransparent(server);
        done(null);
      } catch (e) {
        server.close();
        done(e as Error);
      }
    });
  });
}

export interface TransparentConnectOptions {
  /** Upstream IP literal (resolve names first). */
  host: string;
  port: number;
  /** Source address to keep, usually the downstream's remoteAddress; need not be local. */
  localAddress: string;
  /** Source port (Envoy original_src's bind_port); default 0: the kernel picks one. */
  localPort?: number;
  /** SO_MARK on the upstream socket (Envoy original_src's `mark`), for policy routing of replies; 0: none. */
  mark?: number;
  /** As net.Socket's; Switchyard's proxied sockets set it (half-close passes through). */
  allowHalfOpen?: boolean;
  noDelay?: boolean;
}

/**
 * Opens a TCP connection to host:port whose source is localAddress[:localPort] even when that
 * address is not local (IP_TRANSPARENT / IPV6_TRANSPARENT, bound before connect). Returns a
 * net.Socket that behaves as net.connect's: 'connect' once connected, 'error' (ECONNREFUSED,
 * EADDRINUSE, EPERM without CAP_NET_ADMIN, ...) asynchronously and never thrown, backpressure
 * and half-close as usual. The replies to a non-local source must be routed back to this host
 * (see test/netns/transparent.test.ts for the iptables/ip rule setup).
 *
 * A v4-mapped address (`::ffff:10.0.0.1`, what a dual-stack listener reports for an IPv4
 * client) is used as the IPv4 address it maps; the two addresses must then be of one family.
 */
export function connectTransparent(opts: TransparentConnectOptions): net.Socket {
  const host = unmapV4(opts.host);
  const local = unmapV4(opts.localAddress);
  const what = `transparent connect from ${hostPort(local, opts.localPort ?? 0)} to ${hostPort(host, opts.port)}`;
  const hostFamily = net.isIP(host);
  const localFamily = net.isIP(local);
  let fd = -1;
  let failure: Error | null = null;
  if (hostFamily === 0 || localFamily === 0) {
    failure = Object.assign(new Error(`${what}: host and localAddress must be IP literals`), { code: 'ERR_INVALID_IP_ADDRESS' });
  } else if (hostFamily !== localFamily) {
    failure = Object.assign(new Error(`${what}: host and localAddress are of different address families`), { code: 'EAFNOSUPPORT' });
  } else {
    try {
      fd = interceptionAddon().transparentSocket(local, opts.localPort ?? 0, opts.mark ?? 0);
    } catch (e) {
      failure = systemError(e, what);
    }
  }
  if (failure !== null) {
    // As net.connect reports a failed bind: an 'error' event on the returned socket, next tick.
    const s = new net.Socket({ allowHalfOpen: opts.allowHalfOpen });
    process.nextTick(() => s.destroy(failure));
    return s;
  }
  // manualStart: no read on the not-yet-connected fd (it would fail with ENOTCONN); reading
  // starts when the connect completes. connect() must follow at once, before any I/O turn: a
  // socket destroyed before it would connect through a fresh, non-transparent handle.
  let s: net.Socket;
  try {
    s = new net.Socket({ fd, allowHalfOpen: opts.allowHalfOpen, manualStart: true } as net.SocketConstructorOpts);
  } catch (e) {
    interceptionAddon().closeFd(fd);
    const f = new net.Socket({ allowHalfOpen: opts.allowHalfOpen });
    process.nextTick(() => f.destroy(e as Error));
    return f;
  }
  s.connect({ host, port: opts.port, noDelay: opts.noDelay });
  return s;
}

function unmapV4(a: string): string {
  if (a.length > 7 && a.slice(0, 7).toLowerCase() === '::ffff:' && net.isIPv4(a.slice(7))) return a.slice(7);
  return a;
}

function checkIp(host: string, what: string): void {
  if (net.isIP(host) === 0) throw Object.assign(new Error(`${what}: not an IP address literal`), { code: 'ERR_INVALID_IP_ADDRESS' });
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
