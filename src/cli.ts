// Entry point: `switchyard <command>`. Wiring only; each command lives in its module.
import { parseArgs } from 'node:util';
import { isLevel, log } from './log';
import { VERSION } from './version';

const HELP = `switchyard ${VERSION} — an Envoy-compatible service-mesh sidecar proxy

Usage:
  switchyard proxy -c FILE [options]     run the proxy from an Envoy v3 bootstrap (YAML or JSON)
  switchyard validate -c FILE            check a bootstrap; exit 0, or non-zero listing every problem
  switchyard demo                        start the demo mesh on this machine (what \`npm start\` runs)
  switchyard init [flags]                write the pod's iptables interception rules, as Istio's
                                         istio-iptables does (see switchyard init --help)
  switchyard control-plane -c MESH [--address HOST:PORT] [--status-address HOST:PORT]
                                         serve a YAML mesh over ADS (SotW and Delta xDS), reloading
                                         it on change; GET /status on the status address
  switchyard --version | --help

Options for proxy:
  -c, --config-path FILE     bootstrap file
  -l, --log-level LEVEL      trace|debug|info|warn|error|critical|off (default info)
      --log-format FORMAT    text|json (default text)
      --drain-time-s N       seconds to let connections finish on shutdown (default 5)
      --concurrency N        worker processes sharing the listeners (default 1)

Options for control-plane:
  -c, --config-path MESH     mesh file (groups of Envoy v3 resources per node)
      --address HOST:PORT    ADS gRPC address (default 127.0.0.1:18000)
      --status-address HOST:PORT  status HTTP address (default 127.0.0.1:0, printed at start)
`;

export function main(argv: string[]): void {
  // `init` has its own flags (istio-iptables'): hand it the rest of the arguments.
  if (argv[0] === 'init') {
    process.exitCode = require('./interception/iptables/command').runInit(argv.slice(1));
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'config-path': { type: 'string', short: 'c' },
        'log-level': { type: 'string', short: 'l' },
        'log-format': { type: 'string' },
        'drain-time-s': { type: 'string' },
        concurrency: { type: 'string' },
        address: { type: 'string' },
        'status-address': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`switchyard: ${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const v = parsed.values;
  if (v.version) {
    process.stdout.write(`switchyard version ${VERSION}\n`);
    return;
  }
  const cmd = parsed.positionals[0];
  if (v.help || cmd === undefined || cmd === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const level = v['log-level'] ?? 'info';
  if (!isLevel(level)) fail(`unknown --log-level "${level}"`);
  log.setLevel(level);
  if (v['log-format'] !== undefined && v['log-format'] !== 'json' && v['log-format'] !== 'text') fail(`unknown --log-format "${v['log-format']}"`);
  log.json = v['log-format'] === 'json';
  const num = (name: 'drain-time-s' | 'concurrency', dflt: number, min: number): number => {
    const s = v[name];
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${s}"`);
    return n;
  };
  switch (cmd) {
    case 'proxy': {
      const file = v['config-path'];
      if (file === undefined) fail('proxy needs -c/--config-path FILE');
      void require('./run_proxy').runProxy({
        configPath: file,
        drainTimeS: num('drain-time-s', 5, 0),
        concurrency: Math.floor(num('concurrency', 1, 1)),
        logLevel: level,
        logFormat: log.json ? 'json' : 'text',
      });
      return;
    }
    case 'validate': {
      const file = v['config-path'] ?? parsed.positionals[1];
      if (file === undefined) fail('validate needs -c/--config-path FILE');
      process.exitCode = require('./config/validate').validateCommand(file);
      return;
    }
    case 'control-plane': {
      const file = v['config-path'];
      if (file === undefined) fail('control-plane needs -c/--config-path MESH');
      void require('./xds/server/run').runControlPlane({
        meshPath: file,
        address: v.address ?? '127.0.0.1:18000',
        statusAddress: v['status-address'] ?? '127.0.0.1:0',
      });
      return;
    }
    case 'demo':
      void require('./demo/run').runDemo();
      return;
    default:
      fail(`unknown command "${cmd}"; see --help`);
  }
}

function fail(msg: string): never {
  process.stderr.write(`switchyard: ${msg}\n`);
  process.exit(2);
}

if (require.main === module) main(process.argv.slice(2));
