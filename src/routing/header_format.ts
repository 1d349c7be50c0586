// Header values in request/response_headers_to_add may contain Envoy's substitution
// format commands (%DOWNSTREAM_REMOTE_ADDRESS%, %REQ(x-foo)%, %START_TIME%, `%%` for a
// literal percent):
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#command-operators
// Values are split into literal parts and commands once, at config time; evaluation
// per request is a loop over the parts. As in Envoy's header formatter, a command whose
// value is unavailable yields '' (not the access log's '-'), and the caller then skips
// the header unless keep_empty_value is set.
import { hostname } from 'node:os';
import type { HeaderMap } from '../http/headers';
import type { RequestHead } from '../http/stream';
import type { FormatCommand, HeaderValueFormat } from './types';

/** What a header value can refer to; built once per request by the router. */
export interface FormatContext {
  head: RequestHead;
  responseHeaders?: HeaderMap;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The selected upstream host as 'ip:port' ('[ip]:port' for IPv6), once known. */
  upstreamAddress?: string;
  /** Request start, ms since the epoch. */
  startTimeMs: number;
}

const NO_ARG = new Set([
  'DOWNSTREAM_REMOTE_ADDRESS',
  'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT',
  'DOWNSTREAM_LOCAL_ADDRESS',
  'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT',
  'UPSTREAM_REMOTE_ADDRESS',
  'PROTOCOL',
  'HOSTNAME',
]);

/** Parses a header value; returns the compiled format or an error message. */
export function parseHeaderFormat(value: string): HeaderValueFormat | string {
  if (!value.includes('%')) return { literal: value, parts: [value] };
  const parts: (string | FormatCommand)[] = [];
  let lit = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    // %NAME% | %NAME(arg)% | %NAME(arg):N%  — the argument may itself contain '%' (START_TIME).
    const m = /^%([A-Z_0-9]+)(?:\(([^)]*)\))?(?::(\d+))?%/.exec(value.slice(i));
    if (!m) return `invalid header value format at offset ${i}: unterminated or malformed %...% command (use %% for a literal %)`;
    const cmd = makeCommand(m[1], m[2], m[3]);
    if (typeof cmd === 'string') return cmd;
    if (lit) parts.push(lit);
    lit = '';
    parts.push(cmd);
    i += m[0].length;
  }
  if (lit) parts.push(lit);
  const allLiteral = parts.every((p) => typeof p === 'string');
  return allLiteral ? { literal: parts.join(''), parts } : { parts };
}

function makeCommand(name: string, arg: string | undefined, max: string | undefined): FormatCommand | string {
  if (NO_ARG.has(name)) {
    if (arg !== undefined) return `%${name}% takes no argument`;
    return { t: name } as FormatCommand;
  }
  if (name === 'START_TIME') return arg ? { t: 'START_TIME', format: arg } : { t: 'START_TIME' };
  if (name === 'REQ' || name === 'RESP') {
    if (!arg) return `%${name}(header)% needs a header name`;
    const q = arg.indexOf('?');
    const cmd: FormatCommand & { t: 'REQ' | 'RESP' } = { t: name, name: (q === -1 ? arg : arg.slice(0, q)).toLowerCase() };
    if (q !== -1) cmd.alt = arg.slice(q + 1).toLowerCase();
    if (max !== undefined) cmd.maxLen = Number(max);
    return cmd;
  }
  return `header value format command %${name}% is not supported by switchyard`;
}

function headValue(head: RequestHead, name: string): string | undefined {
  switch (name) {
    case ':path':
      return head.path;
    case ':method':
      return head.method;
    case ':authority':
    case 'host':
      return head.authority;
    case ':scheme':
      return head.scheme;
    default:
      return head.headers.getJoined(name);
  }
}

function withPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

let host: string | undefined;

function evalCommand(c: FormatCommand, ctx: FormatContext): string {
  switch (c.t) {
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      return withPort(ctx.remoteAddress, ctx.remotePort);
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      return ctx.remoteAddress;
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      return withPort(ctx.localAddress, ctx.localPort);
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      return ctx.localAddress;
    case 'UPSTREAM_REMOTE_ADDRESS':
      return ctx.upstreamAddress ?? '';
    case 'PROTOCOL':
      return ctx.head.protocol;
    case 'HOSTNAME':
      return (host ??= hostname());
    case 'START_TIME':
      return c.format === undefined ? new Date(ctx.startTimeMs).toISOString() : strftime(c.format, ctx.startTimeMs);
    case 'REQ':
    case 'RESP': {
      const read = (n: string) => (c.t === 'REQ' ? headValue(ctx.head, n) : ctx.responseHeaders?.getJoined(n));
      let v = read(c.name);
      if (v === undefined && c.alt !== undefined) v = read(c.alt);
      if (v === undefined) return '';
      return c.maxLen !== undefined && v.length > c.maxLen ? v.slice(0, c.maxLen) : v;
    }
  }
}

/** Evaluates a compiled header value. */
export function evalHeaderFormat(f: HeaderValueFormat, ctx: FormatContext): string {
  if (f.literal !== undefined) return f.literal;
  let s = '';
  const p = f.parts;
  for (let i = 0; i < p.length; i++) {
    const x = p[i];
    s += typeof x === 'string' ? x : evalCommand(x, ctx);
  }
  return s;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * The strftime subset Envoy users write in %START_TIME(...)%, in UTC: %Y %m %d %H %M %S
 * %s (epoch seconds), %z, %Z, %f / %Nf and %ENS (fractional seconds, N digits).
 * Anything else is copied as is.
 */
function strftime(fmt: string, ms: number): string {
  const d = new Date(ms);
  const frac = (digits: number) => pad(d.getUTCMilliseconds(), 3).padEnd(digits, '0').slice(0, digits);
  return fmt.replace(/%(E?)(\d?)([YmdHMSsfzZ%])/g, (all, e: string, nd: string, k: string) => {
    const digits = nd ? Number(nd) : 9;
    switch (k) {
      case 'Y': return String(d.getUTCFullYear());
      case 'm': return pad(d.getUTCMonth() + 1);
      case 'd': return pad(d.getUTCDate());
      case 'H': return pad(d.getUTCHours());
      case 'M': return pad(d.getUTCMinutes());
      case 'S': return e ? pad(d.getUTCSeconds()) + (digits ? '.' + frac(digits) : '') : pad(d.getUTCSeconds());
      case 's': return String(Math.floor(ms / 1000));
      case 'f': return frac(digits);
      case 'z': return '+0000';
      case 'Z': return 'UTC';
      case '%': return '%';
    }
    return all;
  });
}
