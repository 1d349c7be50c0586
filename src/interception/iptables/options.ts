// Flags of `switchyard init`, parsed and validated into InitOptions.
//
// The flags, their short letters and defaults are those of Istio's istio-iptables
// (tools/istio-iptables/pkg/cmd/root.go and pkg/constants), so a pod spec that runs
// `istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x '' -b '*' -d 15090,15021`
// runs `switchyard init` with the same arguments. Defaults follow what Istio's sidecar
// injector passes (`-b '*'`, `-i '*'`), so a bare `switchyard init` captures everything.
// An istio-iptables flag that switchyard does not implement is rejected by name.
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';

export class InitError extends Error {
  /** 2: bad flags (usage), 1: the environment (permissions, missing tools, iptables errors). */
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export type InterceptionMode = 'REDIRECT' | 'TPROXY';
export type Backend = 'auto' | 'nft' | 'legacy';

export interface CidrSet {
  wildcard: boolean;
  v4: string[];
  v6: string[];
}

export interface InitOptions {
  proxyPort: string;
  inboundCapturePort: string;
  inboundTunnelPort: string;
  proxyUids: string[];
  proxyGids: string[];
  mode: InterceptionMode;
  /** '*' or a list of ports / port ranges (a:b); empty disables inbound capture. */
  inboundPorts: '*' | string[];
  inboundPortsExclude: string[];
  outboundCidrs: CidrSet;
  outboundCidrsExclude: CidrSet;
  outboundPorts: string[];
  outboundPortsExclude: string[];
  excludeInterfaces: string[];
  tproxyMark: string;
  tproxyRouteTable: string;
  dryRun: boolean;
  cleanup: boolean;
  backend: Backend;
}

interface FlagDef {
  long: string;
  short?: string;
  aliases?: string[];
  arg?: string;
  dflt?: string;
  help: string;
}

/** The implemented flags, in --help order. `aliases` are other spellings Istio has used. */
export const FLAGS: FlagDef[] = [
  { long: 'proxy-port', short: 'p', aliases: ['envoy-port'], arg: 'PORT', dflt: '15001', help: 'port all outbound TCP is redirected to' },
  { long: 'inbound-capture-port', short: 'z', arg: 'PORT', dflt: '15006', help: 'port all inbound TCP is redirected to' },
  { long: 'inbound-tunnel-port', short: 'e', arg: 'PORT', dflt: '15008', help: 'inbound tunnel (HBONE) port, never captured' },
  { long: 'proxy-uid', short: 'u', arg: 'UIDS', dflt: '1337', help: 'comma-separated uids whose traffic is not redirected (the proxy\'s)' },
  { long: 'proxy-gid', short: 'g', arg: 'GIDS', help: 'comma-separated gids whose traffic is not redirected (default: the uids)' },
  { long: 'istio-inbound-interception-mode', short: 'm', aliases: ['inbound-interception-mode'], arg: 'MODE', dflt: 'REDIRECT', help: 'REDIRECT (nat) or TPROXY (mangle + ip rule)' },
  { long: 'istio-inbound-ports', short: 'b', aliases: ['inbound-ports'], arg: 'PORTS', dflt: '*', help: 'inbound ports to capture; \'*\' for all, \'\' for none' },
  { long: 'istio-local-exclude-ports', short: 'd', aliases: ['inbound-ports-exclude'], arg: 'PORTS', dflt: '', help: 'inbound ports not captured (with -b \'*\'), e.g. admin and health ports' },
  { long: 'istio-service-cidr', short: 'i', aliases: ['outbound-cidrs'], arg: 'CIDRS', dflt: '*', help: 'outbound destination CIDRs to capture; \'*\' for all, \'\' for none' },
  { long: 'istio-service-exclude-cidr', short: 'x', aliases: ['outbound-cidrs-exclude'], arg: 'CIDRS', dflt: '', help: 'outbound destination CIDRs never captured' },
  { long: 'istio-outbound-ports', short: 'q', aliases: ['outbound-ports'], arg: 'PORTS', dflt: '', help: 'outbound ports always captured, whatever the destination' },
  { long: 'istio-local-outbound-ports-exclude', short: 'o', aliases: ['outbound-ports-exclude'], arg: 'PORTS', dflt: '', help: 'outbound ports never captured' },
  { long: 'istio-exclude-interfaces', short: 'c', aliases: ['exclude-interfaces'], arg: 'IFACES', dflt: '', help: 'interfaces whose traffic is never captured' },
  { long: 'istio-inbound-tproxy-mark', short: 't', arg: 'MARK', dflt: '1337', help: 'TPROXY: packet mark of captured inbound traffic' },
  { long: 'istio-inbound-tproxy-route-table', short: 'r', arg: 'TABLE', dflt: '133', help: 'TPROXY: routing table for marked packets' },
  { long: 'iptables-backend', arg: 'auto|nft|legacy', dflt: 'auto', help: 'which iptables to use; auto picks the one holding rules' },
  { long: 'dry-run', short: 'n', help: 'print the iptables-restore input and ip commands; change nothing' },
  { long: 'cleanup', aliases: ['cleanup-only', 'clean'], help: 'remove what init added (same flags as the init); idempotent' },
];

/** istio-iptables flags that switchyard does not implement: named in the error, never ignored. */
const UNSUPPORTED = [
  'kube-virt-interfaces', 'redirect-dns', 'capture-all-dns', 'drop-invalid', 'run-validation', 'skip-rule-apply',
  'iptables-probe-port', 'probe-timeout', 'restore-format', 'iptables-trace-logging', 'dual-stack',
  'network-namespace', 'cni-mode', 'host-nsenter-exec', 'reconcile', 'force-apply', 'iptables-version',
];
const UNSUPPORTED_SHORT: Record<string, string> = { k: 'kube-virt-interfaces', f: 'restore-format' };

export function initHelp(): string {
  const rows = FLAGS.map((f) => {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.long}${f.arg ? ` ${f.arg}` : ''}`;
    const dflt = f.dflt !== undefined ? ` (default ${f.dflt === '' ? "''" : f.dflt})` : '';
    const alias = f.aliases ? ` [also --${f.aliases.join(', --')}]` : '';
    return `  ${names.padEnd(48)} ${f.help}${dflt}${alias}`;
  });
  return `Usage: switchyard init [flags]

Writes the iptables rules that capture the pod's inbound and outbound TCP for the sidecar,
as Istio's istio-iptables does (chains ISTIO_INBOUND, ISTIO_IN_REDIRECT, ISTIO_OUTPUT,
ISTIO_REDIRECT; with -m TPROXY also ISTIO_DIVERT / ISTIO_TPROXY in mangle and an ip rule).
IPv6 rules mirror the IPv4 ones. Rules are applied atomically with iptables-restore /
ip6tables-restore on the backend in use (nft or legacy); running it twice leaves the same
rules as once. Needs CAP_NET_ADMIN (except --dry-run).

Flags (istio-iptables names):
${rows.join('\n')}
  -h, --help                                       this text
`;
}

const PORT_RE = /^\d{1,5}(:\d{1,5})?$/;

function list(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

function port(flag: string, s: string): string {
  const n = Number(s);
  if (!/^\d{1,5}$/.test(s) || n < 1 || n > 65535) throw new InitError(`--${flag}: "${s}" is not a port (1-65535)`, 2);
  return String(n);
}

function ports(flag: string, s: string): string[] {
  return list(s).map((p) => {
    if (!PORT_RE.test(p)) throw new InitError(`--${flag}: "${p}" is not a port or port range (N or N:M)`, 2);
    const [a, b] = p.split(':');
    const lo = port(flag, a);
    if (b === undefined) return lo;
    const hi = port(flag, b);
    if (Number(hi) < Number(lo)) throw new InitError(`--${flag}: port range "${p}" ends before it starts`, 2);
    return `${lo}:${hi}`;
  });
}

function ids(flag: string, s: string): string[] {
  const out = list(s);
  if (out.length === 0) throw new InitError(`--${flag}: needs at least one numeric id`, 2);
  for (const id of out) {
    if (!/^\d{1,10}$/.test(id) || Number(id) > 0xffffffff) throw new InitError(`--${flag}: "${id}" is not a numeric id`, 2);
  }
  return out;
}

function cidrs(flag: string, s: string): CidrSet {
  if (s.trim() === '*') return { wildcard: true, v4: [], v6: [] };
  const set: CidrSet = { wildcard: false, v4: [], v6: [] };
  for (const c of list(s)) {
    const slash = c.indexOf('/');
    const addr = slash < 0 ? c : c.slice(0, slash);
    const fam = isIP(addr);
    if (fam === 0) throw new InitError(`--${flag}: "${c}" is not a CIDR (address/prefix)`, 2);
    const max = fam === 4 ? 32 : 128;
    const len = slash < 0 ? String(max) : c.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) throw new InitError(`--${flag}: "${c}" has a bad prefix length (0-${max})`, 2);
    (fam === 4 ? set.v4 : set.v6).push(`${addr.toLowerCase()}/${Number(len)}`);
  }
  return set;
}

function ifaces(flag: string, s: string): string[] {
  const out = list(s);
  for (const i of out) {
    if (!/^[A-Za-z0-9_.:@+-]{1,15}$/.test(i)) throw new InitError(`--${flag}: "${i}" is not an interface name`, 2);
  }
  return out;
}

function uint(flag: string, s: string, max: number): string {
  if (!/^\d{1,10}$/.test(s) || Number(s) < 1 || Number(s) > max) throw new InitError(`--${flag}: "${s}" must be an integer 1-${max}`, 2);
  return String(Number(s));
}

/** Parses `switchyard init` arguments (argv after "init"); throws InitError on a bad flag. */
export function parseInitArgs(argv: string[]): InitOptions | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const f of FLAGS) {
    const type = f.arg ? 'string' : 'boolean';
    options[f.long] = { type, ...(f.short ? { short: f.short } : {}) };
    for (const a of f.aliases ?? []) options[a] = { type };
  }
  for (const u of UNSUPPORTED) options[u] = { type: 'string' };
  for (const [s, long] of Object.entries(UNSUPPORTED_SHORT)) options[`unsupported-${long}`] = { type: 'string', short: s };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
  } catch (e) {
    // node's messages are one line ("Unknown option '--foo'..."); keep the first sentence.
    throw new InitError(String((e as Error).message).split('\n')[0], 2);
  }
  if (values.help) return 'help';
  if (positionals.length > 0) throw new InitError(`unexpected argument "${positionals[0]}"; see switchyard init --help`, 2);
  for (const u of UNSUPPORTED) {
    if (values[u] !== undefined) throw new InitError(`--${u} is an istio-iptables flag that switchyard init does not support`, 2);
  }
  for (const long of Object.values(UNSUPPORTED_SHORT)) {
    if (values[`unsupported-${long}`] !== undefined) throw new InitError(`--${long} is an istio-iptables flag that switchyard init does not support`, 2);
  }
  const get = (long: string): string => {
    const f = FLAGS.find((x) => x.long === long)!;
    let v = values[long] as string | undefined;
    for (const a of f.aliases ?? []) if (values[a] !== undefined) v = values[a] as string;
    return v ?? f.dflt ?? '';
  };
  const flag = (long: string): boolean => {
    const f = FLAGS.find((x) => x.long === long)!;
    return values[long] === true || (f.aliases ?? []).some((a) => values[a] === true);
  };

  const modeArg = get('istio-inbound-interception-mode');
  const mode = modeArg.toUpperCase();
  if (mode !== 'REDIRECT' && mode !== 'TPROXY') throw new InitError(`--istio-inbound-interception-mode: "${modeArg}" must be REDIRECT or TPROXY`, 2);
  const backend = get('iptables-backend');
  if (backend !== 'auto' && backend !== 'nft' && backend !== 'legacy') throw new InitError(`--iptables-backend: "${backend}" must be auto, nft or legacy`, 2);
  const inb = get('istio-inbound-ports');
  const uids = ids('proxy-uid', get('proxy-uid'));
  const gidArg = get('proxy-gid');
  const exclude = cidrs('istio-service-exclude-cidr', get('istio-service-exclude-cidr'));
  // istio-iptables refuses a wildcard exclusion too (it would exclude everything).
  if (exclude.wildcard) throw new InitError(`--istio-service-exclude-cidr: '*' is not allowed (use -i '' to capture no outbound traffic)`, 2);
  const opts: InitOptions = {
    proxyPort: port('proxy-port', get('proxy-port')),
    inboundCapturePort: port('inbound-capture-port', get('inbound-capture-port')),
    inboundTunnelPort: port('inbound-tunnel-port', get('inbound-tunnel-port')),
    proxyUids: uids,
    proxyGids: gidArg === '' ? uids : ids('proxy-gid', gidArg),
    mode,
    inboundPorts: inb.trim() === '*' ? '*' : ports('istio-inbound-ports', inb),
    inboundPortsExclude: ports('istio-local-exclude-ports', get('istio-local-exclude-ports')),
    outboundCidrs: cidrs('istio-service-cidr', get('istio-service-cidr')),
    outboundCidrsExclude: exclude,
    outboundPorts: ports('istio-outbound-ports', get('istio-outbound-ports')),
    outboundPortsExclude: ports('istio-local-outbound-ports-exclude', get('istio-local-outbound-ports-exclude')),
    excludeInterfaces: ifaces('istio-exclude-interfaces', get('istio-exclude-interfaces')),
    tproxyMark: uint('istio-inbound-tproxy-mark', get('istio-inbound-tproxy-mark'), 0xffffffff),
    tproxyRouteTable: uint('istio-inbound-tproxy-route-table', get('istio-inbound-tproxy-route-table'), 0x7fffffff),
    dryRun: flag('dry-run'),
    cleanup: flag('cleanup'),
    backend,
  };
  if (opts.tproxyMark === '1338') throw new InitError('--istio-inbound-tproxy-mark: 1338 is the outbound mark Istio reserves; pick another', 2);
  return opts;
}
