// `switchyard init` rule builder and flags: the --dry-run text is compared with golden files
// (test/fixtures/init/*.golden; SWITCHYARD_UPDATE_GOLDEN=1 rewrites them), and the rules are
// checked for the properties the interception depends on. Real traffic through these rules
// is tested in test/netns/init.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseSave } from '../../../src/interception/iptables/apply';
import { InitError, initHelp, parseInitArgs, type InitOptions } from '../../../src/interception/iptables/options';
import { buildFamily, ipChanges, renderDryRun, renderRestore, ruleText } from '../../../src/interception/iptables/rules';

const GOLDEN_DIR = path.join(__dirname, '..', '..', 'fixtures', 'init');

/** The golden cases: name -> `switchyard init` arguments (the golden file records them too). */
const GOLDEN_CASES: Record<string, string[]> = {
  'redirect-defaults': [],
  'redirect-include-exclude': ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '10.96.0.0/12,fd00:96::/108', '-b', '*', '-d', '15090,15021,15020', '-q', '8443', '-o', '3306,5432', '--exclude-interfaces', 'eth9'],
  'redirect-listed': ['-i', '10.0.0.0/8,fd00::/8', '-b', '8080,9000:9100', '-u', '1337,1338', '-g', '1400'],
  'tproxy': ['-m', 'TPROXY', '-b', '*', '-d', '15090,15021', '-i', '*', '-x', '192.168.0.0/16', '-c', 'eth9'],
  'tproxy-listed': ['-m', 'TPROXY', '-b', '8080', '-i', '10.0.0.0/8', '-t', '1400', '-r', '140'],
};

function opts(args: string[]): InitOptions {
  const o = parseInitArgs(args);
  assert.notEqual(o, 'help');
  return o as InitOptions;
}

function goldenText(args: string[]): string {
  return `# switchyard init ${args.map((a) => (/^[\w.,:/=-]+$/.test(a) ? a : `'${a}'`)).join(' ')} --dry-run\n${renderDryRun(opts(args))}`;
}

describe('switchyard init --dry-run golden files', () => {
  for (const [name, args] of Object.entries(GOLDEN_CASES)) {
    it(name, () => {
      const file = path.join(GOLDEN_DIR, `${name}.golden`);
      const text = goldenText(args);
      if (process.env.SWITCHYARD_UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
      assert.equal(text, fs.readFileSync(file, 'utf8'), `${file} differs; SWITCHYARD_UPDATE_GOLDEN=1 rewrites it after review`);
      // Stable: the same options render the same text.
      assert.equal(goldenText(args), text);
    });
  }
});

function lines(o: InitOptions, family: 4 | 6): string[] {
  return buildFamily(o, family).rules.map((r) => `${r.table} ${ruleText(r)}`);
}

describe('rules', () => {
  it('defaults are Istio\'s sidecar injection defaults: capture all inbound and outbound, proxy uid/gid 1337', () => {
    const o = opts([]);
    assert.equal(o.proxyPort, '15001');
    assert.equal(o.inboundCapturePort, '15006');
    assert.deepEqual(o.proxyUids, ['1337']);
    assert.deepEqual(o.proxyGids, ['1337']);
    assert.equal(o.mode, 'REDIRECT');
    assert.equal(o.inboundPorts, '*');
    assert.equal(o.outboundCidrs.wildcard, true);
    const v4 = lines(o, 4);
    assert.ok(v4.includes('nat -A PREROUTING -p tcp -j ISTIO_INBOUND'));
    assert.ok(v4.includes('nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT'));
    assert.ok(v4.includes('nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006'));
    assert.ok(v4.includes('nat -A OUTPUT -j ISTIO_OUTPUT'));
    assert.ok(v4.includes('nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001'));
    assert.equal(v4[v4.length - 1], 'nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT');
  });

  it('the proxy uid/gid and the 127.0.0.6 passthrough source return before any redirect to 15001', () => {
    const v4 = lines(opts([]), 4);
    const firstRedirect = v4.indexOf('nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT');
    const src = v4.indexOf('nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN');
    const uid = v4.indexOf('nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN');
    const gid = v4.indexOf('nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN');
    assert.ok(src >= 0 && uid > src && gid > uid && firstRedirect > gid, v4.join('\n'));
    // The passthrough source comes before the rule sending the proxy's loopback calls to inbound.
    const toInbound = v4.findIndex((l) => l.includes('--uid-owner 1337 -j ISTIO_IN_REDIRECT'));
    assert.ok(toInbound > src);
  });

  it('IPv6 mirrors IPv4 with ::1 and ::6', () => {
    const o = opts(['-x', '10.0.0.0/8,fd00::/8', '-d', '15090']);
    const v4 = lines(o, 4);
    const v6 = lines(o, 6);
    assert.equal(v6.length, v4.length);
    const mapped = v4.map((l) => l.replace('127.0.0.1/32', '::1/128').replace('127.0.0.6/32', '::6/128').replace('10.0.0.0/8', 'fd00::/8'));
    assert.deepEqual(v6, mapped);
  });

  it('excluded and included outbound ports, CIDRs and interfaces', () => {
    const o = opts(['-o', '3306', '-q', '8443', '-x', '10.1.2.3', '-c', 'eth1,eth2', '-i', '10.0.0.0/8']);
    const v4 = lines(o, 4);
    assert.ok(v4.includes('nat -A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN'));
    assert.ok(v4.includes('nat -A ISTIO_OUTPUT -p udp --dport 3306 -j RETURN'));
    assert.ok(v4.includes('nat -A ISTIO_OUTPUT -d 10.1.2.3/32 -j RETURN'), 'a bare address is a /32');
    assert.ok(v4.includes('nat -A ISTIO_OUTPUT -p tcp --dport 8443 -j ISTIO_REDIRECT'));
    assert.ok(v4.includes('nat -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT'));
    assert.ok(!v4.includes('nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT'));
    for (const i of ['eth1', 'eth2']) {
      assert.ok(v4.includes(`nat -A PREROUTING -i ${i} -j RETURN`));
      assert.ok(v4.includes(`nat -A OUTPUT -o ${i} -j RETURN`));
    }
    // Excluded CIDRs come before the include that would capture them.
    assert.ok(v4.indexOf('nat -A ISTIO_OUTPUT -d 10.1.2.3/32 -j RETURN') < v4.indexOf('nat -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT'));
    // An IPv4-only include list captures no IPv6 destination.
    assert.ok(!lines(o, 6).some((l) => l.endsWith('-j ISTIO_REDIRECT') && l.includes('-d ')));
  });

  it('an include list naming loopback also captures the app\'s own loopback traffic (as Istio)', () => {
    const v4 = lines(opts(['-i', '127.0.0.1/32,10.0.0.0/8']), 4);
    assert.ok(!v4.some((l) => l.includes('! --uid-owner')));
    assert.ok(lines(opts(['-i', '10.0.0.0/8']), 4).some((l) => l.includes('! --uid-owner 1337')));
  });

  it('-b with a list captures only those ports; -b \'\' captures no inbound traffic', () => {
    const listed = lines(opts(['-b', '8080,9000:9100']), 4);
    assert.ok(listed.includes('nat -A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT'));
    assert.ok(listed.includes('nat -A ISTIO_INBOUND -p tcp --dport 9000:9100 -j ISTIO_IN_REDIRECT'));
    assert.ok(!listed.includes('nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT'));
    const none = lines(opts(['-b', '']), 4);
    assert.ok(!none.some((l) => l.includes('PREROUTING')));
    assert.ok(none.includes('nat -A OUTPUT -j ISTIO_OUTPUT'), 'outbound capture stays');
  });

  it('TPROXY: mangle chains, the TPROXY target with the mark, and the ip rule and local route per family', () => {
    const o = opts(['-m', 'tproxy']);
    const plan = buildFamily(o, 4);
    assert.deepEqual(plan.chains.mangle, ['ISTIO_DIVERT', 'ISTIO_TPROXY', 'ISTIO_INBOUND']);
    const v4 = lines(o, 4);
    assert.ok(v4.includes('mangle -A PREROUTING -p tcp -j ISTIO_INBOUND'));
    assert.ok(!v4.includes('nat -A PREROUTING -p tcp -j ISTIO_INBOUND'));
    assert.ok(v4.includes('mangle -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006'));
    assert.ok(v4.includes('mangle -A ISTIO_DIVERT -j MARK --set-mark 1337'));
    // The three guards come first in mangle ISTIO_INBOUND.
    const inbound = v4.filter((l) => l.startsWith('mangle -A ISTIO_INBOUND'));
    assert.deepEqual(inbound.slice(0, 3), [
      'mangle -A ISTIO_INBOUND -p tcp -m mark --mark 1337 -j RETURN',
      'mangle -A ISTIO_INBOUND -p tcp -s 127.0.0.6/32 -i lo -j RETURN',
      'mangle -A ISTIO_INBOUND -p tcp -i lo -m mark ! --mark 1338 -j RETURN',
    ]);
    const ip = ipChanges(o).map((c) => c.add.join(' '));
    assert.deepEqual(ip, [
      '-6 addr add ::6/128 dev lo metric 1337',
      '-4 rule add fwmark 1337 lookup 133',
      '-4 route add local default dev lo table 133',
      '-6 rule add fwmark 1337 lookup 133',
      '-6 route add local default dev lo table 133',
    ]);
    assert.deepEqual(ipChanges(opts([])).map((c) => c.add.join(' ')), ['-6 addr add ::6/128 dev lo metric 1337']);
  });

  it('renders iptables-restore input: one block per table, chains declared before rules', () => {
    const text = renderRestore(buildFamily(opts(['-m', 'TPROXY']), 4));
    assert.match(text, /^\*mangle\n:ISTIO_DIVERT - \[0:0\]\n:ISTIO_TPROXY - \[0:0\]\n:ISTIO_INBOUND - \[0:0\]\n-A /);
    assert.equal(text.match(/^COMMIT$/gm)?.length, 2);
    assert.ok(text.indexOf('*nat') > text.indexOf('*mangle'));
  });
});

describe('flags', () => {
  const bad = (args: string[], re: RegExp) => {
    assert.throws(() => parseInitArgs(args), (e: unknown) => e instanceof InitError && e.exitCode === 2 && re.test(e.message) && !e.message.includes('\n'));
  };

  it('long names, short names and aliases', () => {
    const o = opts(['--proxy-port', '16001', '--inbound-capture-port=16006', '--proxy-uid', '1000', '--istio-inbound-interception-mode', 'TPROXY', '--istio-service-exclude-cidr', '10.0.0.0/8', '--istio-local-outbound-ports-exclude', '25']);
    assert.equal(o.proxyPort, '16001');
    assert.equal(o.inboundCapturePort, '16006');
    assert.deepEqual(o.proxyUids, ['1000']);
    assert.deepEqual(o.proxyGids, ['1000'], 'gid defaults to the uid');
    assert.equal(o.mode, 'TPROXY');
    assert.deepEqual(o.outboundCidrsExclude.v4, ['10.0.0.0/8']);
    assert.deepEqual(o.outboundPortsExclude, ['25']);
    assert.equal(opts(['--envoy-port', '17001']).proxyPort, '17001');
    assert.deepEqual(opts(['--exclude-interfaces', 'eth1']).excludeInterfaces, ['eth1']);
    assert.equal(opts(['--cleanup']).cleanup, true);
    assert.equal(opts(['-n']).dryRun, true);
    assert.equal(parseInitArgs(['--help']), 'help');
  });

  it('--help lists every flag with its short letter', () => {
    const help = initHelp();
    for (const f of ['-p, --proxy-port', '-z, --inbound-capture-port', '-u, --proxy-uid', '-g, --proxy-gid', '-m, --istio-inbound-interception-mode',
      '-i, --istio-service-cidr', '-x, --istio-service-exclude-cidr', '-b, --istio-inbound-ports', '-d, --istio-local-exclude-ports',
      '-q, --istio-outbound-ports', '-o, --istio-local-outbound-ports-exclude', '--exclude-interfaces', '-n, --dry-run', '--cleanup']) {
      assert.ok(help.includes(f), `--help lacks ${f}`);
    }
  });

  it('bad values are one-line errors naming the flag', () => {
    bad(['-p', '70000'], /--proxy-port: "70000" is not a port/);
    bad(['-z', 'abc'], /--inbound-capture-port/);
    bad(['-m', 'magic'], /"magic" must be REDIRECT or TPROXY/);
    bad(['-x', '*'], /--istio-service-exclude-cidr: '\*' is not allowed/);
    bad(['-x', '10.0.0.0/33'], /bad prefix length/);
    bad(['-i', 'example.com'], /is not a CIDR/);
    bad(['-d', '80,http'], /--istio-local-exclude-ports: "http"/);
    bad(['-b', '9000:8000'], /ends before it starts/);
    bad(['-u', 'istio-proxy'], /--proxy-uid: "istio-proxy" is not a numeric id/);
    bad(['-c', 'bad iface name'], /not an interface name/);
    bad(['--bogus'], /bogus/);
    bad(['extra'], /unexpected argument "extra"/);
  });

  it('istio-iptables flags switchyard does not implement are rejected by name', () => {
    bad(['--redirect-dns', 'true'], /--redirect-dns is an istio-iptables flag that switchyard init does not support/);
    bad(['-k', 'eth1'], /--kube-virt-interfaces is an istio-iptables flag/);
  });
});

describe('parseSave', () => {
  it('reads chains and rules per table', () => {
    const t = parseSave('# x\n*nat\n:PREROUTING ACCEPT [0:0]\n:ISTIO_INBOUND - [0:0]\n-A PREROUTING -p tcp -j ISTIO_INBOUND\nCOMMIT\n*mangle\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    assert.deepEqual([...t.get('nat')!.chains], ['PREROUTING', 'ISTIO_INBOUND']);
    assert.deepEqual(t.get('nat')!.rules, [{ chain: 'PREROUTING', text: 'PREROUTING -p tcp -j ISTIO_INBOUND' }]);
    assert.deepEqual(t.get('mangle')!.rules, []);
  });
});
