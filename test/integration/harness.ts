// Test harness for Switchyard's integration tests.
//
// Everything here drives the proxy from the user's side: it writes a bootstrap file,
// spawns the compiled CLI (bin/switchyard.js -> dist/cli.js) like a user would, talks to
// it with real clients (curl, nghttp, raw sockets), and reads the Envoy-style admin
// endpoints. Every process, server, socket and temp dir a test starts is tracked here and
// killed/closed/removed by PID in an after() hook, even when the test fails.
import { after } from 'node:test';
import { spawn, ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'bin', 'switchyard.js');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

// ---------------------------------------------------------------- tracking & cleanup

const children = new Set<ChildProcess>();
const servers = new Set<{ close(): Promise<void> }>();
const sockets = new Set<net.Socket>();
const tempDirs = new Set<string>();

function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Kills every process the harness started (by PID), closes servers/sockets, removes temp dirs. */
export async function cleanupAll(): Promise<void> {
  for (const s of sockets) s.destroy();
  sockets.clear();
  const waits: Promise<unknown>[] = [];
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      waits.push(new Promise((r) => c.once('exit', r)));
      killChild(c);
    }
  }
  children.clear();
  for (const s of servers) waits.push(s.close().catch(() => undefined));
  servers.clear();
  await Promise.race([Promise.all(waits), sleep(5000)]);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

// Registered at import: node:test runs top-level after() hooks once the file's tests finish.
after(cleanupAll);
// Backstop if the test process dies without running hooks: kill children synchronously.
process.on('exit', () => {
  for (const c of children) killChild(c);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

export function trackSocket<T extends net.Socket>(s: T): T {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
  return s;
}

/** A tracked TCP connection to 127.0.0.1:port that may stay half-open (allowHalfOpen), once connected. */
export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = trackSocket(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function trackProcess(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

// ---------------------------------------------------------------- small utilities

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws after `attempts` tries (bounded). */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  opts: { attempts?: number; intervalMs?: number } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 100;
  const interval = opts.intervalMs ?? 100;
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? ': ' + String(lastErr) : ''}`);
}

/** Ports freePort() handed out in this process: the kernel may offer a closed one again. */
const portsGiven = new Set<number>();

/**
 * Ports for things a test binds later (a proxy's listeners, admin, a control plane) come from
 * below the kernel's ephemeral range: a port from that range that was free a moment ago can
 * be taken meanwhile as the source port of any outgoing connection (curl, the proxy's own
 * upstream connections), and the later bind then fails with EADDRINUSE. Outside the range,
 * only an explicit bind can take it. The range stays clear of the demo's and the benchmark's
 * fixed ports (18000 and up).
 */
const PICK_FROM = 20000;
const PICK_TO = ephemeralStart() - 1;

function ephemeralStart(): number {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > PICK_FROM + 1000) return first;
  } catch {
    // Not Linux: fall back to the IANA dynamic range's start.
  }
  return 32768;
}

function tryBind(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

async function probePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    if (portsGiven.has(port)) continue;
    const p = await tryBind(port);
    if (p !== null) return p;
  }
  const p = await tryBind(0);
  if (p === null) throw new Error('freePort: cannot bind 127.0.0.1');
  return p;
}

/**
 * A port that was free a moment ago on 127.0.0.1 (below the ephemeral range when possible),
 * and not one this process was given before (two placeholders of one bootstrap must not get
 * the same port).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await probePort();
    if (!portsGiven.has(port)) {
      portsGiven.add(port);
      return port;
    }
  }
  throw new Error('freePort: no port that was not handed out already after 100 tries');
}

export function tempDir(prefix = 'switchyard-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export function tempFile(name: string, content: string | Buffer): string {
  const p = path.join(tempDir(), name);
  fs.writeFileSync(p, content);
  return p;
}

/** Writes a file of `size` pseudo-random bytes (written in 1 MiB chunks) and returns path + sha256. */
export function makeBigFile(size: number, name = 'body.bin'): { file: string; sha256: string } {
  const file = path.join(tempDir(), name);
  const block = crypto.randomBytes(1 << 20);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    let left = size;
    let i = 0;
    while (left > 0) {
      const n = Math.min(left, block.length);
      // vary each block a little so a proxy that repeats/reorders blocks is caught
      block.writeUInt32BE(i++, 0);
      const chunk = block.subarray(0, n);
      fs.writeSync(fd, chunk);
      hash.update(chunk);
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { file, sha256: hash.digest('hex') };
}

export function sha256(buf: Buffer | string): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Replaces ${NAME} placeholders; throws on any placeholder left unresolved. */
export function substitute(text: string, vars: Record<string, string | number>): string {
  const out = text.replace(/\$\{([A-Z0-9_]+)\}/g, (m, name: string) =>
    name in vars ? String(vars[name]) : m,
  );
  const left = out.match(/\$\{[A-Z0-9_]+\}/g);
  if (left) throw new Error(`unresolved placeholders in bootstrap: ${[...new Set(left)].join(', ')}`);
  return out;
}

export function readFixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

// ---------------------------------------------------------------- process memory

function readRssKb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
      // the comm field may contain spaces: ppid is the 2nd field after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(ent));
      byParent.set(ppid, list);
    } catch {
      /* raced with exit */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length && out.length < 1000) {
    const p = queue.shift()!;
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Resident set size in bytes of pid plus all its descendants (workers), from /proc. */
export function rssBytes(pid: number): number {
  let kb = readRssKb(pid);
  for (const c of descendants(pid)) kb += readRssKb(c);
  return kb * 1024;
}

/** Samples rssBytes(pid) every intervalMs until stop() is called; stop() returns the peak. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number; peak(): number } {
  let peak = rssBytes(pid);
  const t = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, intervalMs);
  return {
    peak: () => peak,
    stop() {
      clearInterval(t);
      peak = Math.max(peak, rssBytes(pid));
      return peak;
    },
  };
}

// ---------------------------------------------------------------- running commands

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs a command to completion (killed after timeoutMs), collecting its output. */
export function exec(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = trackProcess(
      spawn(cmd, args, {
        cwd: opts.cwd ?? REPO_ROOT,
        env: opts.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => killChild(child), opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode: code,
        signal,
      });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs the compiled CLI with args (e.g. ['validate', '-c', file]). */
export async function runCli(args: string[], timeoutMs = 30_000) {
  const r = await exec(process.execPath, [CLI, ...args], { timeoutMs });
  return { ...r, stdoutText: r.stdout.toString('utf8'), output: r.stdout.toString('utf8') + r.stderr };
}

// ---------------------------------------------------------------- HTTP parsing

export type Headers = Record<string, string>;

export interface ParsedResponse {
  status: number;
  statusLine: string;
  /** Lower-cased names; repeated headers joined with ', '. */
  headers: Headers;
  /** Raw header lines, in order. */
  rawHeaders: [string, string][];
  /** Interim (1xx) responses seen before the final one. */
  interim: { status: number; headers: Headers }[];
  body: Buffer;
}

function parseHeaderBlock(block: string): { status: number; statusLine: string; headers: Headers; raw: [string, string][] } {
  const lines = block.split(/\r?\n/);
  const statusLine = lines[0];
  const m = statusLine.match(/^HTTP\/[\d.]+\s+(\d{3})/);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Headers = {};
  const raw: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    raw.push([name, value]);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[1]), statusLine, headers, raw };
}

/**
 * Parses one response as printed by `curl -i` (header blocks, interim 1xx blocks first, then
 * the body). Works for HTTP/1.x and HTTP/2 output.
 */
export function parseCurlOutput(buf: Buffer): ParsedResponse {
  let rest = buf;
  const interim: { status: number; headers: Headers }[] = [];
  for (let guard = 0; guard < 20; guard++) {
    let end = rest.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (end < 0) {
      end = rest.indexOf('\n\n');
      sepLen = 2;
    }
    if (end < 0) throw new Error(`no header block in curl output: ${JSON.stringify(rest.subarray(0, 200).toString())}`);
    const h = parseHeaderBlock(rest.subarray(0, end).toString('latin1'));
    rest = rest.subarray(end + sepLen);
    if (h.status >= 100 && h.status < 200 && h.status !== 101) {
      interim.push({ status: h.status, headers: h.headers });
      continue;
    }
    return { status: h.status, statusLine: h.statusLine, headers: h.headers, rawHeaders: h.raw, interim, body: rest };
  }
  throw new Error('too many interim responses');
}

/**
 * Parses a sequence of HTTP/1.1 responses from raw bytes (Content-Length, chunked, or
 * read-until-close for the last). Used for pipelining and raw-socket tests.
 */
export function parseHttp1Responses(buf: Buffer, limit = 100): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = buf;
  while (rest.length && out.length < limit) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const h = parseHeaderBlock(rest.subarray(0, end).toString('latin1'));
    rest = rest.subarray(end + 4);
    let body: Buffer;
    if (h.status < 200 || h.status === 204 || h.status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(h.headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (let g = 0; g < 1_000_000; g++) {
        const le = rest.indexOf('\r\n');
        if (le < 0) throw new Error('truncated chunked body');
        const size = parseInt(rest.subarray(0, le).toString('latin1').split(';')[0], 16);
        rest = rest.subarray(le + 2);
        if (size === 0) {
          const te = rest.indexOf('\r\n\r\n');
          const crlf = rest.indexOf('\r\n');
          rest = crlf === 0 ? rest.subarray(2) : te >= 0 ? rest.subarray(te + 4) : Buffer.alloc(0);
          break;
        }
        parts.push(rest.subarray(0, size));
        rest = rest.subarray(size + 2);
      }
      body = Buffer.concat(parts);
    } else if (h.headers['content-length'] !== undefined) {
      const n = Number(h.headers['content-length']);
      body = rest.subarray(0, n);
      rest = rest.subarray(n);
    } else {
      body = rest;
      rest = Buffer.alloc(0);
    }
    if (h.status >= 100 && h.status < 200 && h.status !== 101) {
      // keep interim responses as their own entries when parsing raw streams
    }
    out.push({ status: h.status, statusLine: h.statusLine, headers: h.headers, rawHeaders: h.raw, interim: [], body });
  }
  return out;
}

// ---------------------------------------------------------------- real clients

export interface CurlResult extends ParsedResponse {
  exitCode: number | null;
  stderr: string;
  raw: Buffer;
}

const CURL_BASE = ['-s', '-S', '--noproxy', '*'];

/** Runs real curl with `-i` and parses the (final) response. Adds --max-time 30 unless given. */
export async function curl(args: string[], opts: { timeoutMs?: number } = {}): Promise<CurlResult> {
  const extra = args.includes('--max-time') || args.includes('-m') ? [] : ['--max-time', '30'];
  const r = await exec('curl', [...CURL_BASE, '-i', ...extra, ...args], { timeoutMs: opts.timeoutMs ?? 60_000 });
  if (r.exitCode !== 0 && r.stdout.length === 0) {
    return {
      exitCode: r.exitCode,
      stderr: r.stderr,
      raw: r.stdout,
      status: 0,
      statusLine: '',
      headers: {},
      rawHeaders: [],
      interim: [],
      body: Buffer.alloc(0),
    };
  }
  const parsed = parseCurlOutput(r.stdout);
  return { ...parsed, exitCode: r.exitCode, stderr: r.stderr, raw: r.stdout };
}

/** Runs real curl without -i (e.g. with -o /dev/null -w '%{...}'); returns stdout as text. */
export async function curlRaw(args: string[], opts: { timeoutMs?: number } = {}) {
  const extra = args.includes('--max-time') || args.includes('-m') ? [] : ['--max-time', '60'];
  const r = await exec('curl', [...CURL_BASE, ...extra, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
  return { out: r.stdout.toString('utf8'), stderr: r.stderr, exitCode: r.exitCode };
}

/** Runs real nghttp (nghttp2-client). For http:// URIs nghttp speaks h2c with prior knowledge. */
export async function nghttp(args: string[], opts: { timeoutMs?: number } = {}) {
  const r = await exec('nghttp', args, { timeoutMs: opts.timeoutMs ?? 30_000 });
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr, exitCode: r.exitCode };
}

/**
 * Opens a raw TCP connection, writes `data`, and collects everything received until the
 * peer closes, `until(received)` is true, or timeoutMs passes (then it resolves with what it
 * has, timedOut = true).
 */
export function rawExchange(
  port: number,
  data: string | Buffer,
  opts: { until?: (b: Buffer) => boolean; timeoutMs?: number; host?: string } = {},
): Promise<{ data: Buffer; closed: boolean; timedOut: boolean; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const sock = trackSocket(net.connect({ port, host: opts.host ?? '127.0.0.1' }));
    const finish = (closed: boolean, timedOut: boolean, error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed, timedOut, error });
    };
    const timer = setTimeout(() => finish(false, true), opts.timeoutMs ?? 10_000);
    sock.on('connect', () => sock.write(data));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.until && opts.until(Buffer.concat(chunks))) finish(false, false);
    });
    sock.on('end', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.on('error', (e) => finish(true, false, e));
  });
}

/** Connects once: resolves 'connected' or the error code (e.g. 'ECONNREFUSED'). */
export function probeConnect(port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = trackSocket(net.connect({ port, host }));
    const t = setTimeout(() => {
      s.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code ?? 'error');
    });
  });
}

/** Plain node:http GET/POST to 127.0.0.1 (no agent unless given); body collected. */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('socket', (s) => trackSocket(s));
    req.on('error', reject);
    req.end(opts.body);
  });
}

// ---------------------------------------------------------------- the proxy

export interface ProxyOptions {
  /** Values for ${NAME} placeholders. Unset ${..._PORT} placeholders get a free port each. */
  vars?: Record<string, string | number>;
  /** Extra CLI args after `proxy -c FILE` (e.g. ['--drain-time-s', '3']). */
  args?: string[];
  /** --concurrency N (default 1 so that connection counts are deterministic). */
  concurrency?: number;
  logLevel?: string;
  /** How long to wait for admin /ready = 200 (default 20 s). */
  readyTimeoutMs?: number;
  /** Ports (or placeholder names) that must accept connections before startProxy resolves;
   * defaults to every placeholder whose name contains LISTENER. */
  listeners?: (string | number)[];
  /** Extra environment variables for the proxy process. */
  env?: Record<string, string>;
  /** A command prefix that execs the proxy (e.g. in a namespace of its own); its PID stays the proxy's. */
  wrap?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proxy {
  pid: number;
  adminUrl: string;
  adminPort: number;
  configPath: string;
  /** Every placeholder value used (given or allocated). */
  vars: Record<string, string | number>;
  /** Port for a placeholder name, e.g. port('LISTENER_PORT'). */
  port(name: string): number;
  /** Resolves when the process exits. */
  exited: Promise<ExitInfo>;
  isRunning(): boolean;
  /** Sends `signal` (default SIGTERM) and waits (bounded, then SIGKILL) for exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  stderr(): string;
  stdout(): string;
  /** GET/POST an admin path, e.g. admin('/clusters'). */
  admin(p: string, method?: string): Promise<{ status: number; body: string }>;
  /** Parsed /stats text output: name -> value (counters and gauges; histograms skipped). */
  stats(): Promise<Map<string, number>>;
  /** RSS of the proxy and its workers, in bytes. */
  rss(): number;
}

async function allocateVars(text: string, given: Record<string, string | number>): Promise<Record<string, string | number>> {
  const vars: Record<string, string | number> = { ...given };
  const names = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]));
  for (const n of names) {
    if (!(n in vars) && n.endsWith('PORT')) vars[n] = await freePort();
  }
  return vars;
}

/** Parses Envoy's plain-text /stats output (`name: value` lines). */
export function parseStats(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i <= 0) continue;
    const v = line.slice(i + 2).trim();
    if (!/^-?\d+(\.\d+)?$/.test(v)) continue;
    m.set(line.slice(0, i).trim(), Number(v));
  }
  return m;
}

/**
 * Writes `yamlText` (with placeholders substituted) to a temp dir, spawns
 * `node bin/switchyard.js proxy -c FILE ...`, and waits until admin /ready answers 200 and
 * the listener ports accept connections. On failure the proxy's stderr is in the error.
 * The bootstrap must have `admin.address.socket_address.port_value: ${ADMIN_PORT}`.
 */
export async function startProxy(yamlText: string, opts: ProxyOptions = {}): Promise<Proxy> {
  if (!yamlText.includes('${ADMIN_PORT}')) throw new Error('bootstrap needs an ${ADMIN_PORT} placeholder');
  const vars = await allocateVars(yamlText, opts.vars ?? {});
  const configPath = path.join(tempDir('switchyard-proxy-'), 'bootstrap.yaml');
  fs.writeFileSync(configPath, substitute(yamlText, vars));
  const adminPort = Number(vars.ADMIN_PORT);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const args = [CLI, 'proxy', '-c', configPath, '--concurrency', String(opts.concurrency ?? 1)];
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  args.push(...(opts.args ?? []));
  const argv = [...(opts.wrap ?? []), process.execPath, ...args];
  const child = trackProcess(spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ? { ...process.env, ...opts.env } : process.env }));
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
  });
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
    if (stdout.length > 4_000_000) stdout = stdout.slice(-2_000_000);
  });
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', () => {
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });

  const admin = async (p: string, method = 'GET') => {
    const r = await httpRequest(adminUrl + p, { method, timeoutMs: 10_000 });
    return { status: r.status, body: r.body.toString('utf8') };
  };

  const fail = (why: string): never => {
    killChild(child);
    throw new Error(
      `proxy did not become ready (${why}); exit=${JSON.stringify(exitInfo ?? null)}\n` +
        `config: ${configPath}\n--- proxy stderr ---\n${stderr.slice(-8000)}\n--- proxy stdout ---\n${stdout.slice(-4000)}`,
    );
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let ready = false;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (exitInfo) fail('process exited');
    try {
      const r = await admin('/ready');
      if (r.status === 200) {
        ready = true;
        break;
      }
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  if (!ready) fail('timed out waiting for admin /ready = 200');

  const wanted = opts.listeners ?? Object.keys(vars).filter((k) => k.includes('LISTENER'));
  for (const w of wanted) {
    const port = typeof w === 'number' ? w : Number(vars[w]);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await probeConnect(port)) === 'connected';
      if (!ok) await sleep(100);
    }
    if (!ok) fail(`listener port ${w}=${port} does not accept connections`);
  }

  const pid = child.pid!;
  return {
    pid,
    adminUrl,
    adminPort,
    configPath,
    vars,
    port(name: string) {
      if (!(name in vars)) throw new Error(`no placeholder ${name}`);
      return Number(vars[name]);
    },
    exited,
    isRunning: () => !exitInfo,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000) {
      if (exitInfo) return exitInfo;
      killChild(child, signal);
      const r = await Promise.race([exited, sleep(timeoutMs).then(() => undefined)]);
      if (r) return r;
      killChild(child, 'SIGKILL');
      return exited;
    },
    stderr: () => stderr,
    stdout: () => stdout,
    admin,
    async stats() {
      const r = await admin('/stats');
      if (r.status !== 200) throw new Error(`/stats answered ${r.status}`);
      return parseStats(r.body);
    },
    rss: () => rssBytes(pid),
  };
}

// ---------------------------------------------------------------- backends

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Which backend connection carried it (1-based, in accept order). */
  connection: number;
  bodyLength: number;
  bodySha256?: string;
  /** For /bytes/N: how many body bytes the backend has handed to its socket so far. */
  bytesWritten: number;
  finished: boolean;
}

export interface HttpBackend {
  name: string;
  port: number;
  url: string;
  server: http.Server;
  /** Connections accepted so far. */
  connections(): number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A node:http backend on 127.0.0.1:0. Every request gets JSON
 * {backend, method, url, headers, bodyLength, bodySha256, connection} once its body is read.
 * Controls, matched at the end of the path so that any route prefix works:
 *   .../slow?ms=N      answer after N ms (capped at 60 s)
 *   .../status/NNN     answer with status NNN (JSON body as usual)
 *   .../bytes/N        stream N bytes (honouring backpressure) as application/octet-stream
 *   .../echo           stream the request body back
 * A request header `x-backend-set-header: name=value` is copied onto the response.
 */
export async function startHttpBackend(name: string): Promise<HttpBackend> {
  let conns = 0;
  const open = new Set<net.Socket>();
  const requests: RecordedRequest[] = [];
  const connId = new WeakMap<net.Socket, number>();
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const u = new URL(req.url ?? '/', 'http://backend');
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      connection: connId.get(req.socket) ?? 0,
      bodyLength: 0,
      bytesWritten: 0,
      finished: false,
    };
    if (requests.length > 1000) requests.splice(0, 500);
    requests.push(rec);
    const setHdr = req.headers['x-backend-set-header'];
    if (typeof setHdr === 'string' && setHdr.includes('=')) {
      const i = setHdr.indexOf('=');
      res.setHeader(setHdr.slice(0, i), setHdr.slice(i + 1));
    }
    res.setHeader('x-backend', name);

    if (/\/echo$/.test(u.pathname)) {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
      req.on('data', (d: Buffer) => (rec.bodyLength += d.length));
      req.pipe(res);
      res.on('finish', () => (rec.finished = true));
      return;
    }

    const hash = crypto.createHash('sha256');
    req.on('data', (d: Buffer) => {
      rec.bodyLength += d.length;
      hash.update(d);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      rec.bodySha256 = hash.digest('hex');
      const bytes = u.pathname.match(/\/bytes\/(\d+)$/);
      if (bytes) return streamBytes(res, Number(bytes[1]), rec);
      const status = u.pathname.match(/\/status\/(\d{3})$/);
      const slow = /\/slow$/.test(u.pathname) ? Math.min(Number(u.searchParams.get('ms') ?? '1000'), 60_000) : 0;
      const answer = () => {
        const body = JSON.stringify({
          backend: name,
          method: rec.method,
          url: rec.url,
          headers: rec.headers,
          bodyLength: rec.bodyLength,
          bodySha256: rec.bodySha256,
          connection: rec.connection,
        });
        res.writeHead(status ? Number(status[1]) : 200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body, () => (rec.finished = true));
      };
      if (slow > 0) {
        const t = setTimeout(answer, slow);
        res.on('close', () => clearTimeout(t));
      } else answer();
    });
  });
  server.on('connection', (s: net.Socket) => {
    conns += 1;
    connId.set(s, conns);
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const backend: HttpBackend = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    server,
    connections: () => conns,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
  servers.add(backend);
  return backend;
}

function streamBytes(res: http.ServerResponse, total: number, rec: RecordedRequest): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = total;
  const pump = () => {
    for (let i = 0; i < 100_000 && left > 0; i++) {
      const n = Math.min(left, chunk.length);
      left -= n;
      rec.bytesWritten += n;
      const more = res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (!more && left > 0) {
        res.once('drain', pump);
        return;
      }
    }
    if (left === 0) res.end(() => (rec.finished = true));
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

export interface TcpBackend {
  port: number;
  connections(): number;
  /** Connections on which the backend saw the client's FIN (end of its write side). */
  finsSeen(): number;
  /** Connections that are currently open at the backend. */
  open(): number;
  /** For startTcpSource: bytes handed to the socket so far on the latest connection. */
  bytesWritten(): number;
  close(): Promise<void>;
}

export function startTcpServer(onConn: (s: net.Socket, state: { fins: number; written: number }) => void): Promise<TcpBackend> {
  let conns = 0;
  const open = new Set<net.Socket>();
  const state = { fins: 0, written: 0 };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    conns += 1;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    onConn(s, state);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const b: TcpBackend = {
        port: (server.address() as net.AddressInfo).port,
        connections: () => conns,
        finsSeen: () => state.fins,
        open: () => open.size,
        bytesWritten: () => state.written,
        close: () =>
          new Promise<void>((r) => {
            for (const s of open) s.destroy();
            server.close(() => r());
          }),
      };
      servers.add(b);
      resolve(b);
    });
  });
}

/**
 * A TCP echo server (allowHalfOpen). Echoes every byte; when the client half-closes it
 * writes the marker `[fin]`, then ends its own side — so a client that half-closes still
 * receives data afterwards if the proxy passes half-close through.
 */
export function startTcpEcho(): Promise<TcpBackend> {
  return startTcpServer((s, state) => {
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => {
      state.fins += 1;
      s.end('[fin]');
    });
  });
}

/** A TCP server that sends `total` bytes (honouring backpressure) to each client, then ends. */
export function startTcpSource(total: number): Promise<TcpBackend> {
  return startTcpServer((s, state) => {
    state.written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let left = total;
    s.on('end', () => (state.fins += 1));
    const pump = () => {
      for (let i = 0; i < 100_000 && left > 0; i++) {
        const n = Math.min(left, chunk.length);
        left -= n;
        state.written += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n)) && left > 0) {
          s.once('drain', pump);
          return;
        }
      }
      if (left === 0) s.end();
    };
    pump();
  });
}

/** Registers any closable resource (a ws server, grpc server...) for cleanup. */
export function trackResource(close: () => Promise<void> | void): void {
  servers.add({ close: async () => void (await close()) });
}
