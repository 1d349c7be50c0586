// Where an upstream connection comes from: the kernel's choice, a configured local address
// (upstream_bind_config), or — with the original_src listener filter — the downstream
// client's own address on a transparent socket, so the upstream sees the real client
// (TPROXY setups; replies are routed back by the mark). One function opens every upstream
// TCP socket, for tcp_proxy and the HTTP pools alike.
import { connect, type Socket } from 'node:net';
import { connectTransparent } from '../interception/transparent';
import type { ConnectionInfo } from '../listeners/connection_info';

export interface UpstreamSource {
  address: string;
  /** 0 / undefined: the kernel picks the port. */
  port?: number;
  /** Transparent: the address need not be local (needs CAP_NET_ADMIN). */
  transparent: boolean;
  /** SO_MARK for a transparent socket (original_src `mark`). */
  mark?: number;
}

/** The original_src source for a downstream connection, or undefined when the listener has none. */
export function originalSource(info: ConnectionInfo | undefined): UpstreamSource | undefined {
  const o = info?.originalSrc;
  if (info === undefined || o === undefined) return undefined;
  return { address: info.remoteAddress, ...(o.bindPort ? { port: info.remotePort } : {}), transparent: true, mark: o.mark };
}

export function openUpstreamSocket(ip: string, port: number, source: UpstreamSource | undefined, allowHalfOpen: boolean): Socket {
  if (source === undefined) return connect({ host: ip, port, allowHalfOpen, noDelay: true });
  if (source.transparent) {
    return connectTransparent({ host: ip, port, localAddress: source.address, localPort: source.port, mark: source.mark, allowHalfOpen, noDelay: true });
  }
  return connect({ host: ip, port, allowHalfOpen, noDelay: true, localAddress: source.address, ...(source.port ? { localPort: source.port } : {}) });
}

/** A key for pools per source (original_src): connections are only shared by one client address. */
export function sourceKey(s: UpstreamSource): string {
  return `${s.address}|${s.port ?? 0}|${s.mark ?? 0}`;
}
