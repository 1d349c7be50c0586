// envoy.config.core.v3.Address / SocketAddress / CidrRange → domain types.
import * as net from 'node:net';
import { ConfigIssues, join } from '../../config/issues';
import type { CidrRange, SocketAddress } from '../../config/types';
import type { Canon } from '../proto/canonical';
import { onlyFields, readBool, readMessage, readNumber, readString, requireField } from './fields';

/** An Address; only socket_address is supported (pipe / internal addresses are not). */
export function decodeAddress(canon: Canon | undefined, path: string, issues: ConfigIssues): SocketAddress {
  const fallback: SocketAddress = { address: '', port: 0, protocol: 'TCP' };
  if (!canon) return fallback;
  onlyFields(canon, path, issues, ['socket_address']);
  const sa = readMessage(canon, 'socket_address');
  if (!sa) {
    if (Object.keys(canon).length === 0) issues.add(join(path, 'socket_address'), 'is required');
    return fallback;
  }
  return decodeSocketAddress(sa, join(path, 'socket_address'), issues);
}

export function decodeSocketAddress(sa: Canon, path: string, issues: ConfigIssues): SocketAddress {
  // ipv4_compat only changes how a "::" bind behaves; Node dual-stacks "::" by default.
  onlyFields(sa, path, issues, ['address', 'port_value', 'protocol', 'ipv4_compat']);
  const protocol = (readString(sa, 'protocol', 'TCP') === 'UDP' ? 'UDP' : 'TCP') as 'TCP' | 'UDP';
  if (protocol === 'UDP') issues.add(join(path, 'protocol'), '"UDP" not supported by switchyard');
  readBool(sa, 'ipv4_compat');
  return { address: readString(sa, 'address', ''), port: readNumber(sa, 'port_value', 0), protocol };
}

/** A SocketAddress whose address must be an IP literal (listeners, admin, STATIC hosts). */
export function requireIp(addr: SocketAddress, path: string, issues: ConfigIssues): void {
  if (addr.address && net.isIP(addr.address) === 0) {
    issues.add(join(path, 'socket_address.address'), `malformed IP address: ${JSON.stringify(addr.address)}`);
  }
}

export function decodeCidr(canon: Canon, path: string, issues: ConfigIssues): CidrRange {
  onlyFields(canon, path, issues, ['address_prefix', 'prefix_len']);
  requireField(canon, 'address_prefix', path, issues);
  const address = readString(canon, 'address_prefix', '');
  const prefixLen = readNumber(canon, 'prefix_len', 0); // Envoy: 0 when unset
  const family = net.isIP(address);
  if (address && family === 0) issues.add(join(path, 'address_prefix'), `malformed IP address: ${JSON.stringify(address)}`);
  const max = family === 6 ? 128 : 32;
  if (prefixLen > max) issues.add(join(path, 'prefix_len'), `value must be <= ${max}`);
  return { address, prefixLen };
}
