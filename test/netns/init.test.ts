// `switchyard init` against real iptables in network namespaces (root only), with real
// traffic and WITHOUT the sidecar: plain node TCP listeners stand in for it on 15001 / 15006
// and answer with their name, so the name a client reads says where its connection landed.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, FIXTURES } from '../integration/harness';
import { cliFor, createPod, createPodPair, ensureUser, netnsSkipReason, type Pod, type RunAs, type RunResult } from './netns';

const skip = netnsSkipReason();

// A listener on [::]:PORT (IPv4 too) that writes NAME and closes each connection.
const LISTENER = `const [port, name] = process.argv.slice(1);
require('net').createServer((c) => c.end(name + '\\n')).listen(Number(port), '::', () => console.log('ready'));`;
// A client: connects to HOST:PORT (from LOCAL when given), prints what it reads or the error.
const CLIENT = `const [host, port, local] = process.argv.slice(1);
const s = require('net').connect({ host, port: Number(port), ...(local ? { localAddress: local } : {}) });
let out = ''; s.setEncoding('utf8');
const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 4000);
s.on('data', (d) => (out += d));
s.on('end', () => { clearTimeout(t); console.log(out.trim()); });
s.on('error', (e) => { clearTimeout(t); console.log('ERR:' + e.code); });`;

async function listen(pod: Pod, port: number, name: string): Promise<ChildProcess> {
  const child = pod.spawn(process.execPath, ['-e', LISTENER, String(port), name]);
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`listener ${name} on ${port} not ready in 10 s: ${err}`)), 10_000);
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listener ${name} on ${port} exited ${code}: ${err}`));
    });
  });
  return child;
}

/** Where a connection from `pod` to host:port lands (the listener's name), or ERR:/TIMEOUT. */
function dial(pod: Pod, host: string, port: number, opts: { as?: RunAs; local?: string } = {}): string {
  return pod.exec(process.execPath, ['-e', CLIENT, host, String(port), opts.local ?? ''], { as: opts.as }).stdout.trim();
}

function init(pod: Pod, args: string[], opts: { allowFail?: boolean; as?: RunAs } = {}): RunResult {
  return pod.exec(process.execPath, [opts.as ? cliFor(opts.as) : CLI, 'init', ...args], opts);
}

/**
 * iptables-save and ip6tables-save of the pod, without comments and counters, and without
 * tables that hold nothing (no rule, no user chain): nft creates a table the first time a
 * rule is written to it and an empty one behaves as none.
 */
function snapshot(pod: Pod, backend: 'nft' | 'legacy' = 'nft'): string {
  let out = '';
  for (const tool of [`iptables-${backend}-save`, `ip6tables-${backend}-save`]) {
    const text = pod.exec(tool, []).stdout.replace(/\[\d+:\d+\]/g, '[0:0]');
    out += `## ${tool}\n`;
    for (const block of text.split(/^(?=\*)/m)) {
      const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      if (!lines[0]?.startsWith('*')) continue;
      if (!lines.some((l) => l.startsWith('-A ') || (l.startsWith(':') && / - \[/.test(l)))) continue;
      out += lines.join('\n') + '\n';
    }
  }
  return out;
}

function ipState(pod: Pod): string {
  return [
    pod.exec('ip', ['-6', 'addr', 'show', 'dev', 'lo']).stdout,
    pod.exec('ip', ['-4', 'rule', 'show']).stdout,
    pod.exec('ip', ['-6', 'rule', 'show']).stdout,
    pod.exec('ip', ['-4', 'route', 'show', 'table', 'all']).stdout,
    pod.exec('ip', ['-6', 'route', 'show', 'table', 'all']).stdout,
  ].join('---\n');
}

function assertOneLineError(r: RunResult, re: RegExp): void {
  assert.notEqual(r.status, 0, `expected a failure, got exit 0: ${r.stdout}`);
  const err = r.stderr.trim();
  assert.match(err, re);
  assert.equal(err.split('\n').length, 1, `expected one line, got:\n${err}`);
  assert.doesNotMatch(err, /\n\s+at |\.js:\d+/, 'no stack trace');
}

describe('switchyard init in a network namespace', { skip }, () => {
  it('inbound: a peer\'s connection to B:8080 lands on B\'s 15006; an excluded port (-d) reaches the app', async () => {
    const { a, b } = createPodPair();
    await listen(b, 15006, 'inbound');
    await listen(b, 8080, 'app8080');
    await listen(b, 9090, 'app9090');
    assert.equal(dial(a, b.ip4, 8080), 'app8080', 'before init the app answers');
    const r = init(b, ['-d', '9090']);
    assert.equal(r.status, 0, r.stderr);
    for (const host of [b.ip4, b.ip6]) {
      assert.equal(dial(a, host, 8080), 'inbound', `to ${host}:8080`);
      assert.equal(dial(a, host, 9090), 'app9090', `to ${host}:9090 (excluded)`);
    }
  });

  it('outbound: app -> B:80 lands on 15001; proxy uid, excluded CIDR and port bypass; 127.0.0.6 / ::6 reach the app', async () => {
    const proxy = ensureUser(1337);
    const { a, b } = createPodPair();
    // A second address on B, excluded with -x.
    const n = b.ip4.split('.')[1];
    const b3v4 = `10.${n}.0.3`;
    const b3v6 = `fd00:${n}::3`;
    b.exec('ip', ['addr', 'add', `${b3v4}/24`, 'dev', b.iface]);
    b.exec('ip', ['-6', 'addr', 'add', `${b3v6}/64`, 'dev', b.iface, 'nodad']);
    await listen(a, 15001, 'outbound');
    await listen(a, 15006, 'a-inbound');
    await listen(a, 8080, 'a-app');
    await listen(b, 80, 'b80');
    await listen(b, 8081, 'b8081');
    assert.equal(dial(a, b.ip4, 80), 'b80', 'before init B answers');
    const r = init(a, ['-x', `${b3v4}/32,${b3v6}/128`, '-o', '8081', '-d', '8080']);
    assert.equal(r.status, 0, r.stderr);
    for (const [host, host3, src, self] of [
      [b.ip4, b3v4, '127.0.0.6', a.ip4],
      [b.ip6, b3v6, '::6', a.ip6],
    ]) {
      assert.equal(dial(a, host, 80), 'outbound', `app -> ${host}:80 is captured`);
      assert.equal(dial(a, host, 80, { as: proxy }), 'b80', `uid 1337 -> ${host}:80 is not`);
      assert.equal(dial(a, host3, 80), 'b80', `-x: ${host3} is not captured`);
      assert.equal(dial(a, host, 8081), 'b8081', `-o: port 8081 is not captured`);
      // The proxy reaching the app over lo from the passthrough source is not redirected;
      // from another source it goes to the inbound side (Istio's app -> VIP -> sidecar path).
      assert.equal(dial(a, self, 8080, { as: proxy, local: src }), 'a-app', `uid 1337 from ${src} -> ${self}:8080`);
      assert.equal(dial(a, self, 8080, { as: proxy }), 'a-inbound', `uid 1337 -> ${self}:8080 without ${src}`);
      // The app calling itself over lo is not captured.
      assert.equal(dial(a, self, 8080), 'a-app', `app -> ${self}:8080`);
    }
  });

  for (const backend of ['nft', 'legacy'] as const) {
    it(`idempotent (${backend}): init twice = once; --dry-run changes nothing; --cleanup restores the tables, twice`, () => {
      const pod = createPod('idem');
      const ipt = (v: 4 | 6, ...args: string[]) => pod.exec(`ip${v === 6 ? '6' : ''}tables-${backend}`, args);
      // Unrelated rules that must survive (and make the tables exist before init).
      ipt(4, '-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-j', 'RETURN');
      ipt(6, '-t', 'nat', '-A', 'OUTPUT', '-d', '2001:db8::1/128', '-j', 'RETURN');
      ipt(4, '-t', 'mangle', '-A', 'PREROUTING', '-i', 'eth7', '-j', 'RETURN');
      ipt(6, '-t', 'mangle', '-A', 'PREROUTING', '-i', 'eth7', '-j', 'RETURN');
      const before = snapshot(pod, backend);
      const ipBefore = ipState(pod);
      const args = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '10.96.0.0/12,fd00:96::/108', '-b', '*', '-d', '15090,15021,15020', '-q', '8443', '-o', '3306,5432', '--exclude-interfaces', 'eth9', '--iptables-backend', backend];

      assert.equal(init(pod, args).status, 0);
      const once = snapshot(pod, backend);
      assert.match(once, /:ISTIO_OUTPUT/);
      assert.match(once, /-A OUTPUT -o eth9 -j RETURN/);
      assert.match(once, /-A OUTPUT -d 192\.0\.2\.1\/32 -j RETURN/);
      assert.equal(init(pod, args).status, 0);
      assert.equal(snapshot(pod, backend), once, 'init twice leaves the same rules as once');

      const dry = init(pod, [...args, '--dry-run']);
      assert.equal(dry.status, 0);
      assert.equal(snapshot(pod, backend), once, '--dry-run changes nothing');
      const golden = fs.readFileSync(path.join(FIXTURES, 'init', 'redirect-include-exclude.golden'), 'utf8');
      assert.equal(dry.stdout, golden.slice(golden.indexOf('\n') + 1), 'the CLI prints the golden text');

      const c1 = init(pod, [...args, '--cleanup']);
      assert.equal(c1.status, 0, c1.stderr);
      assert.equal(snapshot(pod, backend), before, '--cleanup restores the tables');
      assert.equal(ipState(pod), ipBefore, '--cleanup removes ::6 from lo');
      const c2 = init(pod, [...args, '--cleanup']);
      assert.equal(c2.status, 0, c2.stderr);
      assert.equal(snapshot(pod, backend), before, 'a second --cleanup changes nothing');
    });
  }

  it('picks the backend in use: rules already in legacy iptables -> legacy', () => {
    const pod = createPod('backend');
    pod.exec('iptables-legacy', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-j', 'RETURN']);
    const r = init(pod, []);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /legacy/);
    assert.match(snapshot(pod, 'legacy'), /:ISTIO_OUTPUT/);
    assert.doesNotMatch(snapshot(pod, 'nft'), /ISTIO_/);
  });

  it('TPROXY: mangle chains and ip rules install, --cleanup removes them all', () => {
    const pod = createPod('tproxy');
    pod.exec('iptables-nft', ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-j', 'RETURN']);
    const before = snapshot(pod);
    const ipBefore = ipState(pod);
    const args = ['-m', 'TPROXY', '-d', '15090', '-c', 'eth9'];
    assert.equal(init(pod, args).status, 0);
    assert.equal(init(pod, args).status, 0);
    for (const v of [4, 6] as const) {
      const mangle = pod.exec(v === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'mangle']).stdout;
      assert.match(mangle, /-A ISTIO_TPROXY .*-j TPROXY --on-port 15006 .*--tproxy-mark 0x539\/0xffffffff/);
      assert.match(mangle, /-A ISTIO_DIVERT -j MARK --set-xmark 0x539\/0xffffffff/);
      assert.match(mangle, /-A PREROUTING -p tcp -j ISTIO_INBOUND/);
      assert.equal(mangle.match(/-A PREROUTING -p tcp -j ISTIO_INBOUND/g)?.length, 1, 'no duplicate after two inits');
      const rules = pod.exec('ip', [`-${v}`, 'rule', 'show']).stdout;
      assert.equal(rules.match(/fwmark 0x539 lookup 133/g)?.length, 1, rules);
      assert.match(pod.exec('ip', [`-${v}`, 'route', 'show', 'table', '133']).stdout, /^local default/m);
    }
    assert.equal(init(pod, [...args, '--cleanup']).status, 0);
    assert.equal(snapshot(pod), before);
    assert.equal(ipState(pod), ipBefore);
    assert.equal(init(pod, [...args, '--cleanup']).status, 0);
    assert.equal(snapshot(pod), before);
  });

  it('errors: without CAP_NET_ADMIN, without iptables in PATH, a bad flag: one clear line, non-zero exit', () => {
    const pod = createPod('err');
    const before = snapshot(pod);
    const nobody: RunAs = { uid: 65534, gid: 65534 };
    assertOneLineError(init(pod, [], { allowFail: true, as: nobody }), /^switchyard init: permission denied: .*CAP_NET_ADMIN/);
    const noPath = pod.exec('env', ['PATH=/nonexistent', process.execPath, CLI, 'init'], { allowFail: true });
    assertOneLineError(noPath, /^switchyard init: missing tool: .*iptables-restore.* not found in PATH/);
    const bad = init(pod, ['-p', 'http'], { allowFail: true });
    assertOneLineError(bad, /^switchyard init: --proxy-port: "http" is not a port/);
    assert.equal(bad.status, 2);
    assert.equal(snapshot(pod), before, 'nothing changed');
    // --dry-run needs neither privileges nor tools.
    const dry = pod.exec('env', ['PATH=/nonexistent', process.execPath, cliFor(nobody), 'init', '--dry-run'], { as: nobody });
    assert.match(dry.stdout, /^-A ISTIO_OUTPUT -j ISTIO_REDIRECT$/m);
  });
});

describe('switchyard init (netns)', () => {
  it('runs or says why it is skipped', { skip }, () => {
    assert.ok(fs.existsSync(CLI), `${CLI} missing: build with npx tsc -p tsconfig.json`);
  });
});
