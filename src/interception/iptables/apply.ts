// Applies the plan, or removes it, atomically per address family.
//
// Each family gets one `iptables-restore --noflush` script per run, so a failure leaves the
// tables as they were. The script first undoes what an earlier init left (so running init
// twice leaves the same rules as once), then adds the plan:
//   :ISTIO_X - [0:0]        creates the chain, or flushes it when it exists (--noflush)
//   -D <built-in rule>      jumps from built-in chains to our chains, found in -save output
//                           (its canonical text deletes exactly that rule), and our other
//                           built-in-chain rules (interface exclusions, TPROXY marks), found
//                           with `iptables -C` since -save prints them in its own spelling
//   -F / -X                 our chains the plan no longer has
//   -A ...                  the plan
// --cleanup is the same script without the plan: only what init added is removed, and
// unrelated rules stay.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Tools } from './backend';
import { InitError, type InitOptions } from './options';
import { BUILTIN_CHAINS, OWN_CHAINS, TABLES, buildFamily, ipChanges, ruleText, type Family, type FamilyPlan, type Table } from './rules';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? r.error.message : '') };
}

interface SavedTable {
  chains: Set<string>;
  rules: { chain: string; text: string }[];
}

/** Parses iptables-save output into chains and rule lines per table. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: [] };
      tables.set(line.slice(1).trim(), cur);
    } else if (cur && line.startsWith(':')) {
      cur.chains.add(line.slice(1).split(' ')[0]);
    } else if (cur && line.startsWith('-A ')) {
      cur.rules.push({ chain: line.split(' ')[1], text: line.slice(3) });
    }
  }
  return tables;
}

const OWN = new Set(OWN_CHAINS);
const BUILTIN = new Set(BUILTIN_CHAINS);

function jumpTarget(ruleText: string): string | undefined {
  const m = / -[jg] (\S+)/.exec(` ${ruleText}`);
  return m ? m[1] : undefined;
}

/**
 * The restore script for one family: undo what is there, then add `plan` (undefined: cleanup).
 * `cleanupOf` is the plan whose non-jump built-in rules are looked for (the same options).
 */
function familyScript(tools: Tools, family: Family, cleanupOf: FamilyPlan, plan: FamilyPlan | undefined): string {
  const saved = run(tools.save[family], []);
  if (saved.status !== 0) throw new InitError(`${tools.save[family]} failed: ${firstLine(saved.stderr)}`);
  const state = parseSave(saved.stdout);
  let out = '';
  for (const table of TABLES) {
    const have = state.get(table) ?? { chains: new Set<string>(), rules: [] };
    const ownHere = [...have.chains].filter((c) => OWN.has(c));
    const planChains = plan ? plan.chains[table] : [];
    const planRules = plan ? plan.rules.filter((r) => r.table === table) : [];
    const lines: string[] = [];
    for (const c of planChains) lines.push(`:${c} - [0:0]`);
    for (const r of have.rules) {
      const target = jumpTarget(r.text);
      if (BUILTIN.has(r.chain) && target !== undefined && OWN.has(target)) lines.push(`-D ${r.text}`);
    }
    for (const r of cleanupOf.rules) {
      if (r.table !== table || !BUILTIN.has(r.chain) || OWN.has(jumpTarget(r.spec.join(' ')) ?? '')) continue;
      const check = run(tools.iptables[family], ['-w', '-t', table, '-C', r.chain, ...r.spec]);
      if (check.status === 0) lines.push(ruleText(r, '-D'));
    }
    const stale = ownHere.filter((c) => !planChains.includes(c));
    for (const c of stale) lines.push(`-F ${c}`);
    for (const c of stale) lines.push(`-X ${c}`);
    for (const r of planRules) lines.push(ruleText(r));
    if (lines.length === 0) continue;
    out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

function restore(tools: Tools, family: Family, script: string): void {
  if (script === '') return;
  const r = run(tools.restore[family], ['-w', '--noflush'], script);
  if (r.status === 0) return;
  let msg = firstLine(r.stderr) || `exit ${r.status}`;
  // "line N failed": name the rule, since the script is never shown otherwise.
  const m = /line:? (\d+)/.exec(r.stderr);
  if (m) msg += ` (${script.split('\n')[Number(m[1]) - 1] ?? ''})`;
  throw new InitError(`${tools.restore[family]} failed: ${msg}`);
}

export interface Scripts {
  4: string;
  6: string;
}

/** IPv6 compiled out of the kernel (ipv6.disable=1): there is nothing to capture there. */
function ipv6Off(): boolean {
  return !fs.existsSync('/proc/sys/net/ipv6');
}

/** Computes both families' scripts (reads state, changes nothing). */
export function planScripts(o: InitOptions, tools: Tools, cleanup: boolean): Scripts {
  const out: Scripts = { 4: '', 6: '' };
  for (const f of [4, 6] as const) {
    if (f === 6 && ipv6Off()) continue;
    const plan = buildFamily(o, f);
    out[f] = familyScript(tools, f, plan, cleanup ? undefined : plan);
  }
  return out;
}

function ipPresent(tools: Tools, show: string[]): string | undefined {
  const r = run(tools.ip, show);
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout : undefined;
}

function lo6Enabled(tools: Tools): boolean {
  return ipPresent(tools, ['-6', 'addr', 'show', 'dev', 'lo']) !== undefined;
}

/** Writes the rules (both families), then the ip address / rules / routes. */
export function applyInit(o: InitOptions, tools: Tools): void {
  const scripts = planScripts(o, tools, false);
  restore(tools, 4, scripts[4]);
  restore(tools, 6, scripts[6]);
  for (const c of ipChanges(o)) {
    if (c.add[0] === '-6' && (ipv6Off() || !lo6Enabled(tools))) continue; // IPv6 is off in this pod
    if (ipPresent(tools, c.show) !== undefined) continue;
    const r = run(tools.ip, c.add);
    if (r.status !== 0) throw new InitError(`ip ${c.add.join(' ')} failed: ${firstLine(r.stderr)}`);
  }
}

/** Removes what init added (same options), leaving everything else. Idempotent. */
export function cleanupInit(o: InitOptions, tools: Tools): void {
  const scripts = planScripts(o, tools, true);
  restore(tools, 4, scripts[4]);
  restore(tools, 6, scripts[6]);
  for (const c of ipChanges(o).reverse()) {
    if (c.add[0] === '-6' && ipv6Off()) continue;
    // Bounded: an ip rule added several times is listed (and deleted) once per copy.
    for (let i = 0; i < 16; i++) {
      const shown = ipPresent(tools, c.show);
      if (shown === undefined || (c.ownedMarker !== undefined && !shown.includes(c.ownedMarker))) break;
      const r = run(tools.ip, c.del);
      if (r.status !== 0) throw new InitError(`ip ${c.del.join(' ')} failed: ${firstLine(r.stderr)}`);
    }
  }
}

export type { Table };
