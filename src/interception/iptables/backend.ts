// Which iptables to drive: the nft-based one or the legacy (x_tables) one, and the checks
// that turn "you cannot do this here" into one clear line before anything is changed.
//
// Both backends can be installed side by side; rules written through the wrong one still
// apply in the kernel but are invisible to the other's -save and fight with it. Like Istio's
// istio-iptables (pkg/dependencies: DetectIptablesVersion), pick the backend that already
// holds rules (ours first), else the one `iptables` itself is (its --version says
// "nf_tables" or "legacy").
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InitError, type Backend } from './options';
import { OWN_CHAINS } from './rules';

export interface Tools {
  backend: 'nft' | 'legacy';
  save: Record<4 | 6, string>;
  restore: Record<4 | 6, string>;
  iptables: Record<4 | 6, string>;
  ip: string;
}

/** Full path of an executable found on PATH, or undefined. */
export function findOnPath(tool: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(':')) {
    if (dir === '') continue;
    const p = path.join(dir, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

const CAP_NET_ADMIN = 12;

/** True when this process's effective capability set holds CAP_NET_ADMIN (Linux). */
export function hasNetAdmin(): boolean {
  let status: string;
  try {
    status = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return typeof process.getuid === 'function' && process.getuid() === 0;
  }
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return false;
  return ((BigInt('0x' + m[1]) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
}

function toolSet(variant: 'nft' | 'legacy' | ''): { save: Record<4 | 6, string>; restore: Record<4 | 6, string>; iptables: Record<4 | 6, string> } {
  const v = variant === '' ? '' : `-${variant}`;
  return {
    save: { 4: `iptables${v}-save`, 6: `ip6tables${v}-save` },
    restore: { 4: `iptables${v}-restore`, 6: `ip6tables${v}-restore` },
    iptables: { 4: `iptables${v}`, 6: `ip6tables${v}` },
  };
}

function resolveAll(variant: 'nft' | 'legacy' | ''): ReturnType<typeof toolSet> | undefined {
  const names = toolSet(variant);
  const out = toolSet(variant);
  for (const kind of ['save', 'restore', 'iptables'] as const) {
    for (const f of [4, 6] as const) {
      const p = findOnPath(names[kind][f]);
      if (p === undefined) return undefined;
      out[kind][f] = p;
    }
  }
  return out;
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? r.error.message : '') };
}

/** How much a backend holds: 2 when it has one of our chains, 1 when it has any rule, else 0. */
function holdings(save: Record<4 | 6, string>): number {
  let score = 0;
  for (const f of [4, 6] as const) {
    const r = run(save[f], []);
    if (r.status !== 0) continue;
    if (OWN_CHAINS.some((c) => r.stdout.includes(`:${c} `))) return 2;
    if (/^-A /m.test(r.stdout)) score = 1;
  }
  return score;
}

/**
 * Checks permissions and tools, then picks the backend. Throws InitError with one line
 * naming what is missing.
 */
export function detectTools(wanted: Backend): Tools {
  const ip = findOnPath('ip');
  const nft = resolveAll('nft');
  const legacy = resolveAll('legacy');
  const plain = resolveAll('');
  if (!nft && !legacy && !plain) {
    const missing = ['iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save', 'iptables', 'ip6tables'].filter((t) => findOnPath(t) === undefined);
    throw new InitError(`missing tool: ${missing.join(', ')} not found in PATH (${process.env.PATH ?? ''}); install the iptables package`);
  }
  if (ip === undefined) throw new InitError(`missing tool: ip not found in PATH (${process.env.PATH ?? ''}); install the iproute2 package`);
  if (!hasNetAdmin()) {
    throw new InitError('permission denied: switchyard init needs CAP_NET_ADMIN to change iptables rules (run it as root, or grant NET_ADMIN to the init container)');
  }
  const pick = (backend: 'nft' | 'legacy'): Tools => {
    const set = backend === 'nft' ? nft : legacy;
    if (set) return { backend, ...set, ip };
    // Only the unsuffixed tools: use them if they are this backend.
    if (plain && plainBackend(plain.iptables[4]) === backend) return { backend, ...plain, ip };
    throw new InitError(`missing tool: the ${backend} iptables tools (iptables-${backend}-restore, ip6tables-${backend}-restore, ...) are not in PATH`);
  };
  if (wanted === 'nft' || wanted === 'legacy') return pick(wanted);
  if (nft && legacy) {
    const n = holdings(nft.save);
    const l = holdings(legacy.save);
    if (l > n) return pick('legacy');
    if (n > l) return pick('nft');
  }
  if (plain) return { backend: plainBackend(plain.iptables[4]), ...plain, ip };
  return pick(nft ? 'nft' : 'legacy');
}

function plainBackend(iptables: string): 'nft' | 'legacy' {
  const r = run(iptables, ['--version']);
  return /legacy/.test(r.stdout) ? 'legacy' : 'nft';
}
