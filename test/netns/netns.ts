// Network-namespace harness for the interception tests (they need root).
//
// A "pod" is a network namespace with loopback up and one end of a veth pair; two pods are
// joined by that pair, with IPv4 and IPv6 addresses on each end. Processes run inside a pod
// through `ip netns exec`, optionally as another uid/gid through `setpriv` (the sidecar runs
// as uid 1337, as under Istio). Every namespace, process and user created here is removed
// in an after() hook, and again at process exit, even when a test fails.
import { after } from 'node:test';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, REPO_ROOT, trackProcess } from '../integration/harness';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

const REQUIRED_TOOLS = ['ip', 'iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'setpriv', 'useradd', 'nft'];

function which(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why the netns tests cannot run here, or undefined when they can. Pass it to
 * `test(name, { skip: netnsSkipReason() }, fn)` so a non-root run says why it skipped.
 */
export function netnsSkipReason(): string | undefined {
  if (!IS_ROOT) return 'needs root (creates network namespaces and iptables rules); CI runs as root';
  const missing = REQUIRED_TOOLS.filter((t) => !which(t));
  if (missing.length > 0) return `missing tools: ${missing.join(', ')} (test/install-deps.sh installs them)`;
  const probe = spawnSync('ip', ['netns', 'add', `sy-probe-${process.pid}`], { encoding: 'utf8' });
  if (probe.status !== 0) return `cannot create a network namespace: ${probe.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', `sy-probe-${process.pid}`]);
  return undefined;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously on the host; throws with its output when it fails (unless allowFail). */
export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: 60_000 });
  const res = { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!opts.allowFail && r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${res.stderr || res.stdout}${r.error ? ` (${r.error.message})` : ''}`);
  }
  return res;
}

/** What the CLI (and the TypeScript test agents, through tsx) need at run time, relative to the repo root. */
const RUNTIME_PATHS = ['package.json', 'tsconfig.json', 'bin', 'dist', 'node_modules', 'src', 'test/netns/fixtures'];
let runtimeCopy: string | null = null;

/**
 * A repo root a process running as `as` can read: the repo itself when that user can read it,
 * else a world-readable copy of what runs there (a checkout under /root, or in a 0700 temp
 * dir, is not readable by the sidecar's uid 1337). Made once per process; removed at exit.
 */
export function rootFor(as: RunAs): string {
  const probe = spawnSync('setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', '--', 'test', '-r', path.join(REPO_ROOT, 'dist', 'cli.js')]);
  if (probe.status === 0) return REPO_ROOT;
  if (runtimeCopy === null) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-runtime-'));
    fs.chmodSync(root, 0o755);
    for (const rel of RUNTIME_PATHS) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true, mode: 0o755 });
      sh('cp', ['-a', path.join(REPO_ROOT, rel), path.join(root, rel)]);
    }
    sh('chmod', ['-R', 'a+rX', root]);
    runtimeCopy = root;
  }
  return runtimeCopy;
}

/** The switchyard CLI as a process running as `as` can execute it. */
export function cliFor(as: RunAs): string {
  const root = rootFor(as);
  return root === REPO_ROOT ? CLI : path.join(root, 'bin', 'switchyard.js');
}

const namespaces = new Set<string>();
const createdUsers = new Set<string>();
let seq = 0;

function removeAll(): void {
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  namespaces.clear();
  if (runtimeCopy !== null) {
    fs.rmSync(runtimeCopy, { recursive: true, force: true });
    runtimeCopy = null;
  }
  for (const u of createdUsers) {
    spawnSync('userdel', [u]);
    spawnSync('groupdel', [u]);
  }
  createdUsers.clear();
}

after(removeAll);
process.on('exit', removeAll);

export interface RunAs {
  uid: number;
  gid: number;
  /** Capabilities kept across the uid change (inheritable + ambient), e.g. ['net_admin']. */
  capabilities?: string[];
}

export class Pod {
  /** IPv4 and IPv6 address of the pod's veth end ('' until joined). */
  ip4 = '';
  ip6 = '';
  iface = '';

  constructor(readonly ns: string) {}

  /** Runs a command inside the pod and waits for it; throws when it fails unless allowFail. */
  exec(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string; as?: RunAs } = {}): RunResult {
    return sh('ip', ['netns', 'exec', this.ns, ...asUser(opts.as), cmd, ...args], opts);
  }

  /** Starts a long-running process inside the pod (tracked: killed by PID after the test). */
  spawn(cmd: string, args: string[], opts: SpawnOptions & { as?: RunAs } = {}): ChildProcess {
    const { as, ...rest } = opts;
    return trackProcess(spawn('ip', ['netns', 'exec', this.ns, ...asUser(as), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...rest }));
  }
}

function asUser(as: RunAs | undefined): string[] {
  if (as === undefined) return [];
  const caps = as.capabilities?.map((c) => `+${c}`).join(',');
  const keep = caps ? [`--inh-caps=${caps}`, `--ambient-caps=${caps}`] : [];
  return ['setpriv', `--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', ...keep, '--'];
}

/** Creates an empty pod (network namespace with loopback up). */
export function createPod(label = 'pod'): Pod {
  const ns = `sy-${process.pid}-${label}-${seq++}`;
  sh('ip', ['netns', 'add', ns]);
  namespaces.add(ns);
  const pod = new Pod(ns);
  pod.exec('ip', ['link', 'set', 'lo', 'up']);
  return pod;
}

/**
 * Creates two pods joined by a veth pair: a = 10.N.0.1 / fd00:N::1, b = 10.N.0.2 / fd00:N::2
 * (IPv6 with duplicate-address detection off so the addresses are usable at once).
 */
export function createPodPair(): { a: Pod; b: Pod } {
  const n = 100 + (seq % 100);
  const a = createPod('a');
  const b = createPod('b');
  const ia = `vsy${process.pid % 10000}a${n}`.slice(0, 15);
  const ib = `vsy${process.pid % 10000}b${n}`.slice(0, 15);
  sh('ip', ['link', 'add', ia, 'netns', a.ns, 'type', 'veth', 'peer', 'name', ib, 'netns', b.ns]);
  const setup = (p: Pod, iface: string, host: number) => {
    p.iface = iface;
    p.ip4 = `10.${n}.0.${host}`;
    p.ip6 = `fd00:${n}::${host}`;
    p.exec('ip', ['addr', 'add', `${p.ip4}/24`, 'dev', iface]);
    p.exec('ip', ['-6', 'addr', 'add', `${p.ip6}/64`, 'dev', iface, 'nodad']);
    p.exec('ip', ['link', 'set', iface, 'up']);
  };
  setup(a, ia, 1);
  setup(b, ib, 2);
  return { a, b };
}

/**
 * Makes sure a user with this uid exists (the sidecar's, 1337 under Istio). A user created
 * here is deleted after the test.
 */
export function ensureUser(uid: number, name = `sy-proxy-${uid}`): RunAs {
  const found = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8' });
  if (found.status === 0) {
    const gid = Number(found.stdout.split(':')[3]);
    return { uid, gid };
  }
  // The group gets the same id (Istio excludes uid 1337 and gid 1337).
  const groupFree = spawnSync('getent', ['group', String(uid)]).status !== 0;
  if (groupFree) sh('groupadd', ['--system', '--gid', String(uid), name]);
  sh('useradd', ['--system', '--no-create-home', '--uid', String(uid), ...(groupFree ? ['--gid', String(uid)] : ['--user-group']), '--shell', '/usr/sbin/nologin', name]);
  createdUsers.add(name);
  const gid = Number(sh('getent', ['passwd', String(uid)]).stdout.split(':')[3]);
  return { uid, gid };
}
