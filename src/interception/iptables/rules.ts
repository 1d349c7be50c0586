// The pure rule builder: InitOptions -> the chains and rules for one address family, and
// their iptables-restore text. No I/O here; apply.ts and the --dry-run printer consume it.
//
// The rules and their order follow Istio's istio-iptables
// (tools/istio-iptables/pkg/capture/run.go), with the IPv6 set mirroring the IPv4 one
// (::1/128 for 127.0.0.1/32, ::6/128 for 127.0.0.6/32):
//   nat  ISTIO_INBOUND      PREROUTING jumps here; excluded ports RETURN, the rest -> ISTIO_IN_REDIRECT
//   nat  ISTIO_IN_REDIRECT  REDIRECT --to-ports <inbound capture port> (15006)
//   nat  ISTIO_OUTPUT       OUTPUT jumps here; proxy uid/gid, loopback, excluded CIDRs/ports RETURN
//   nat  ISTIO_REDIRECT     REDIRECT --to-ports <proxy port> (15001)
//   TPROXY mode moves inbound capture to mangle: ISTIO_INBOUND -> ISTIO_TPROXY (TPROXY target,
//   mark) or ISTIO_DIVERT (established: mark + ACCEPT), and an ip rule sends marked packets to a
//   routing table whose default route is local (see routes()).
// 127.0.0.6 (::6) is the source the sidecar's inbound passthrough binds to reach the app over
// lo; ISTIO_OUTPUT returns it first so it is never redirected back to the sidecar.
import type { InitOptions } from './options';

export type Family = 4 | 6;
export type Table = 'mangle' | 'nat';

export const CHAIN = {
  INBOUND: 'ISTIO_INBOUND',
  IN_REDIRECT: 'ISTIO_IN_REDIRECT',
  OUTPUT: 'ISTIO_OUTPUT',
  REDIRECT: 'ISTIO_REDIRECT',
  DIVERT: 'ISTIO_DIVERT',
  TPROXY: 'ISTIO_TPROXY',
} as const;

/** Every chain init may create: cleanup removes these (and the jumps to them). */
export const OWN_CHAINS: readonly string[] = Object.values(CHAIN);
export const BUILTIN_CHAINS: readonly string[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
export const TABLES: readonly Table[] = ['mangle', 'nat'];

/** Mark Istio puts on the sidecar's own loopback traffic to the app in TPROXY mode. */
export const OUTBOUND_MARK = '1338';

export interface Rule {
  table: Table;
  chain: string;
  /** The rule after `-A <chain>`, one token per element. */
  spec: string[];
}

export interface FamilyPlan {
  family: Family;
  /** User chains to create (or flush) per table, in declaration order. */
  chains: Record<Table, string[]>;
  rules: Rule[];
}

const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1/32', 6: '::1/128' };
const INBOUND_PASSTHROUGH_SRC: Record<Family, string> = { 4: '127.0.0.6/32', 6: '::6/128' };

/** Builds the chains and rules for one family. */
export function buildFamily(o: InitOptions, family: Family): FamilyPlan {
  const tproxy = o.mode === 'TPROXY';
  const lo = LOOPBACK[family];
  const rules: Rule[] = [];
  const add = (table: Table, chain: string, ...spec: string[]) => rules.push({ table, chain, spec });
  const nat = (chain: string, ...spec: string[]) => add('nat', chain, ...spec);
  const mangle = (chain: string, ...spec: string[]) => add('mangle', chain, ...spec);

  // Interfaces never captured, first in the built-in chains.
  for (const i of o.excludeInterfaces) {
    nat('PREROUTING', '-i', i, '-j', 'RETURN');
    nat('OUTPUT', '-o', i, '-j', 'RETURN');
  }
  if (tproxy) {
    for (const i of o.excludeInterfaces) {
      mangle('PREROUTING', '-i', i, '-j', 'RETURN');
      mangle('OUTPUT', '-o', i, '-j', 'RETURN');
    }
    // Prevent re-capture: packets already marked, the sidecar's passthrough source, and
    // loopback traffic the sidecar did not mark as outbound-to-app.
    mangle(CHAIN.INBOUND, '-p', 'tcp', '-m', 'mark', '--mark', o.tproxyMark, '-j', 'RETURN');
    mangle(CHAIN.INBOUND, '-p', 'tcp', '-s', INBOUND_PASSTHROUGH_SRC[family], '-i', 'lo', '-j', 'RETURN');
    mangle(CHAIN.INBOUND, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', OUTBOUND_MARK, '-j', 'RETURN');
  }

  // The inbound tunnel port is never captured.
  nat(CHAIN.INBOUND, '-p', 'tcp', '--dport', o.inboundTunnelPort, '-j', 'RETURN');
  nat(CHAIN.REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', o.proxyPort);
  nat(CHAIN.IN_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', o.inboundCapturePort);

  // Inbound.
  const inboundOn = o.inboundPorts === '*' || o.inboundPorts.length > 0;
  if (inboundOn) {
    const table: Table = tproxy ? 'mangle' : 'nat';
    if (tproxy) {
      mangle(CHAIN.DIVERT, '-j', 'MARK', '--set-mark', o.tproxyMark);
      mangle(CHAIN.DIVERT, '-j', 'ACCEPT');
      mangle(CHAIN.TPROXY, '!', '-d', lo, '-p', 'tcp', '-j', 'TPROXY', '--tproxy-mark', `${o.tproxyMark}/0xffffffff`, '--on-port', o.inboundCapturePort);
    }
    add(table, 'PREROUTING', '-p', 'tcp', '-j', CHAIN.INBOUND);
    const capture = (...match: string[]) => {
      if (tproxy) {
        mangle(CHAIN.INBOUND, '-p', 'tcp', ...match, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', CHAIN.DIVERT);
        mangle(CHAIN.INBOUND, '-p', 'tcp', ...match, '-j', CHAIN.TPROXY);
      } else {
        nat(CHAIN.INBOUND, '-p', 'tcp', ...match, '-j', CHAIN.IN_REDIRECT);
      }
    };
    if (o.inboundPorts === '*') {
      for (const p of o.inboundPortsExclude) add(table, CHAIN.INBOUND, '-p', 'tcp', '--dport', p, '-j', 'RETURN');
      capture();
    } else {
      for (const p of o.inboundPorts) capture('--dport', p);
    }
  }

  // Outbound.
  nat('OUTPUT', '-j', CHAIN.OUTPUT);
  for (const p of o.outboundPortsExclude) {
    nat(CHAIN.OUTPUT, '-p', 'tcp', '--dport', p, '-j', 'RETURN');
    nat(CHAIN.OUTPUT, '-p', 'udp', '--dport', p, '-j', 'RETURN');
  }
  nat(CHAIN.OUTPUT, '-o', 'lo', '-s', INBOUND_PASSTHROUGH_SRC[family], '-j', 'RETURN');
  // TPROXY: the sidecar's original_src connections to the app carry the TPROXY mark (SO_MARK);
  // without this they would match the uid rule below and be redirected to the inbound port
  // again (a loop that ends in a connect timeout).
  if (tproxy) nat(CHAIN.OUTPUT, '-o', 'lo', '-p', 'tcp', '-m', 'mark', '--mark', o.tproxyMark, '-j', 'RETURN');
  // If the include list names a loopback range the app's own loopback traffic is captured.
  const includesLoopback = [...o.outboundCidrs.v4, ...o.outboundCidrs.v6].some(isLoopbackCidr);
  const owner = (kind: '--uid-owner' | '--gid-owner', id: string) => {
    // The sidecar calling the app through a service address lands on lo: send it to the
    // inbound side (app -> sidecar outbound -> sidecar inbound -> app).
    nat(CHAIN.OUTPUT, '-o', 'lo', '!', '-d', lo, '-p', 'tcp', '!', '--dport', o.inboundTunnelPort, '-m', 'owner', kind, id, '-j', CHAIN.IN_REDIRECT);
    // The app calling itself over lo (pod IP) is not captured.
    if (!includesLoopback) nat(CHAIN.OUTPUT, '-o', 'lo', '-m', 'owner', '!', kind, id, '-j', 'RETURN');
    // The sidecar's own traffic is never captured (no loops), whatever the protocol.
    nat(CHAIN.OUTPUT, '-m', 'owner', kind, id, '-j', 'RETURN');
  };
  for (const u of o.proxyUids) owner('--uid-owner', u);
  for (const g of o.proxyGids) owner('--gid-owner', g);
  nat(CHAIN.OUTPUT, '-d', lo, '-j', 'RETURN');
  for (const c of family === 4 ? o.outboundCidrsExclude.v4 : o.outboundCidrsExclude.v6) nat(CHAIN.OUTPUT, '-d', c, '-j', 'RETURN');
  for (const p of o.outboundPorts) nat(CHAIN.OUTPUT, '-p', 'tcp', '--dport', p, '-j', CHAIN.REDIRECT);
  if (o.outboundCidrs.wildcard) {
    nat(CHAIN.OUTPUT, '-j', CHAIN.REDIRECT);
  } else {
    for (const c of family === 4 ? o.outboundCidrs.v4 : o.outboundCidrs.v6) nat(CHAIN.OUTPUT, '-d', c, '-j', CHAIN.REDIRECT);
  }

  if (tproxy) {
    // Keep the mark of captured connections (Envoy's original_src relies on it) and restore it
    // on the way out so replies follow the TPROXY routing table.
    mangle('PREROUTING', '-p', 'tcp', '-m', 'mark', '--mark', o.tproxyMark, '-j', 'CONNMARK', '--save-mark');
    mangle('OUTPUT', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', o.tproxyMark, '-j', 'RETURN');
    for (const u of o.proxyUids) mangle('OUTPUT', '!', '-d', lo, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--uid-owner', u, '-j', 'MARK', '--set-mark', OUTBOUND_MARK);
    for (const g of o.proxyGids) mangle('OUTPUT', '!', '-d', lo, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--gid-owner', g, '-j', 'MARK', '--set-mark', OUTBOUND_MARK);
    mangle('OUTPUT', '-p', 'tcp', '-m', 'connmark', '--mark', o.tproxyMark, '-j', 'CONNMARK', '--restore-mark');
  }

  return {
    family,
    chains: {
      mangle: tproxy ? [CHAIN.DIVERT, CHAIN.TPROXY, CHAIN.INBOUND] : [],
      nat: [CHAIN.INBOUND, CHAIN.REDIRECT, CHAIN.IN_REDIRECT, CHAIN.OUTPUT],
    },
    rules,
  };
}

function isLoopbackCidr(c: string): boolean {
  return c.startsWith('127.') || c === '::1/128';
}

export function ruleText(r: Rule, op = '-A'): string {
  return `${op} ${r.chain} ${r.spec.join(' ')}`;
}

/** The plan as iptables-restore input (to be run with --noflush). */
export function renderRestore(plan: FamilyPlan): string {
  let out = '';
  for (const table of TABLES) {
    const rules = plan.rules.filter((r) => r.table === table);
    if (plan.chains[table].length === 0 && rules.length === 0) continue;
    out += `*${table}\n`;
    for (const c of plan.chains[table]) out += `:${c} - [0:0]\n`;
    for (const r of rules) out += ruleText(r) + '\n';
    out += 'COMMIT\n';
  }
  return out;
}

/** A route-level change init makes with `ip` (TPROXY policy routing, the ::6 address). */
export interface IpChange {
  /** What `ip` is called with to add it. */
  add: string[];
  /** What `ip` is called with to remove it. */
  del: string[];
  /** What `ip` is called with to list it: non-empty output means it is there. */
  show: string[];
  /** --cleanup removes it only when the listing holds this (it was added by init). */
  ownedMarker?: string;
}

/**
 * The metric switchyard gives the ::6/128 address it adds to lo, so --cleanup can tell it from
 * a ::6 that was there before (iproute2 6.1 has no address protocol tag to do this).
 */
export const LOOPBACK6_METRIC = '1337';

/**
 * The `ip` changes: ::6/128 on lo (IPv6 lo only holds ::1/128, and the sidecar's inbound
 * passthrough binds ::6 as it binds 127.0.0.6 on IPv4), and in TPROXY mode, per family,
 * `ip rule add fwmark <mark> lookup <table>` plus `ip route add local default dev lo table
 * <table>`, so packets the TPROXY target marked are delivered locally.
 */
export function ipChanges(o: InitOptions): IpChange[] {
  const out: IpChange[] = [
    {
      add: ['-6', 'addr', 'add', '::6/128', 'dev', 'lo', 'metric', LOOPBACK6_METRIC],
      del: ['-6', 'addr', 'del', '::6/128', 'dev', 'lo'],
      show: ['-6', 'addr', 'show', 'dev', 'lo', 'to', '::6/128'],
      ownedMarker: `metric ${LOOPBACK6_METRIC}`,
    },
  ];
  const inboundOn = o.inboundPorts === '*' || o.inboundPorts.length > 0;
  if (o.mode === 'TPROXY' && inboundOn) {
    for (const f of ['-4', '-6']) {
      out.push({
        add: [f, 'rule', 'add', 'fwmark', o.tproxyMark, 'lookup', o.tproxyRouteTable],
        del: [f, 'rule', 'del', 'fwmark', o.tproxyMark, 'lookup', o.tproxyRouteTable],
        show: [f, 'rule', 'show', 'fwmark', o.tproxyMark, 'lookup', o.tproxyRouteTable],
      });
      out.push({
        add: [f, 'route', 'add', 'local', 'default', 'dev', 'lo', 'table', o.tproxyRouteTable],
        del: [f, 'route', 'del', 'local', 'default', 'dev', 'lo', 'table', o.tproxyRouteTable],
        show: [f, 'route', 'show', 'table', o.tproxyRouteTable, 'type', 'local', 'dev', 'lo', 'root', 'default'],
      });
    }
  }
  return out;
}

/** The whole --dry-run output: both families' iptables-restore input and the ip commands. */
export function renderDryRun(o: InitOptions): string {
  const v4 = renderRestore(buildFamily(o, 4));
  const v6 = renderRestore(buildFamily(o, 6));
  const ip = ipChanges(o).map((c) => `ip ${c.add.join(' ')}\n`).join('');
  return `# iptables-restore --noflush\n${v4}# ip6tables-restore --noflush\n${v6}# ip\n${ip}`;
}
