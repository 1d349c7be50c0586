// Loads the interception addon (src/interception/native/, C over node_api.h, built by
// `npm ci` / `npm run build:native`) and turns its errors into Node-style system errors.
//
// The .node file is found from the package root, which is two levels above this file both
// when it runs from src/ (tsx, the tests) and from dist/ (tsc output): the addon is not copied
// into dist/.
import * as path from 'node:path';
import * as util from 'node:util';

export interface InterceptionAddon {
  originalDst(fd: number): { address: string; port: number; family: 4 | 6 } | null;
  transparentListen(address: string, port: number, backlog: number, ipv6Only: boolean, freebind: boolean): number;
  transparentSocket(address: string, port: number, mark: number): number;
  setTransparent(fd: number): void;
  closeFd(fd: number): void;
}

export const ADDON_PATH = path.join(__dirname, '..', '..', 'src', 'interception', 'native', 'build', 'Release', 'switchyard_interception.node');

let addon: InterceptionAddon | null = null;
let loadError: Error | null = null;

/**
 * The addon, loaded on first use. Throws (every time) when it is missing or does not load,
 * saying how to build it; call it at config time to fail early rather than per connection.
 */
export function interceptionAddon(): InterceptionAddon {
  if (addon !== null) return addon;
  if (loadError !== null) throw loadError;
  try {
    addon = require(ADDON_PATH) as InterceptionAddon;
    return addon;
  } catch (e) {
    loadError = new Error(
      `the interception addon (original destination, transparent sockets) did not load from ${ADDON_PATH}: ${(e as Error).message}; ` +
        'it is built by `npm ci` (or `npm run build:native`), which needs make, a C compiler, python3 and Node headers',
      { cause: e },
    );
    throw loadError;
  }
}

/** A system error as Node's own: code (errno name), errno (negative), syscall; plus what needed it. */
export interface InterceptionSystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  option?: string;
}

const NEEDS_CAPABILITY: Record<string, string> = {
  IP_TRANSPARENT: 'CAP_NET_ADMIN (or CAP_NET_RAW)',
  IPV6_TRANSPARENT: 'CAP_NET_ADMIN (or CAP_NET_RAW)',
  SO_MARK: 'CAP_NET_ADMIN',
};

/**
 * Rewrites an error thrown by the addon into `<what>: <syscall> <option> <CODE>: <reason>` with
 * `code` set; for EPERM/EACCES on an option that needs a capability, says which. TypeErrors
 * (bad arguments) pass through unchanged.
 */
export function systemError(e: unknown, what: string): Error {
  const raw = e as Partial<InterceptionSystemError> & Error;
  if (typeof raw?.errno !== 'number') return raw;
  const code = util.getSystemErrorName(raw.errno);
  const option = raw.option;
  let reason = raw.message.slice(raw.message.lastIndexOf(': ') + 2);
  if ((code === 'EPERM' || code === 'EACCES') && option !== undefined && NEEDS_CAPABILITY[option] !== undefined) {
    reason += `; ${option} needs ${NEEDS_CAPABILITY[option]} (run the proxy as root or grant it the capability)`;
  }
  const err = new Error(`${what}: ${raw.syscall}${option ? ` ${option}` : ''} ${code}: ${reason}`) as InterceptionSystemError;
  err.code = code;
  err.errno = raw.errno;
  err.syscall = raw.syscall ?? '';
  if (option !== undefined) err.option = option;
  return err;
}
