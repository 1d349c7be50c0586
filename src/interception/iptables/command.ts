// `switchyard init`: the init container's entry point (Istio's istio-iptables equivalent).
// Returns the exit code; every failure is one line on stderr naming the problem.
import { applyInit, cleanupInit, planScripts } from './apply';
import { detectTools } from './backend';
import { InitError, initHelp, parseInitArgs } from './options';
import { ipChanges, renderDryRun } from './rules';

export function runInit(argv: string[]): number {
  try {
    const o = parseInitArgs(argv);
    if (o === 'help') {
      process.stdout.write(initHelp());
      return 0;
    }
    if (o.dryRun && !o.cleanup) {
      // The plan itself: needs no privileges and reads nothing, so the output is stable.
      process.stdout.write(renderDryRun(o));
      return 0;
    }
    const tools = detectTools(o.backend);
    if (o.dryRun) {
      // --cleanup --dry-run: what cleanup would run against the current state.
      const s = planScripts(o, tools, true);
      const ip = ipChanges(o).reverse().map((c) => `ip ${c.del.join(' ')}   # if present\n`).join('');
      process.stdout.write(`# ${tools.restore[4]} --noflush\n${s[4]}# ${tools.restore[6]} --noflush\n${s[6]}# ip\n${ip}`);
      return 0;
    }
    if (o.cleanup) {
      cleanupInit(o, tools);
      process.stdout.write(`switchyard init: removed the interception rules (iptables ${tools.backend}, IPv4 and IPv6)\n`);
    } else {
      applyInit(o, tools);
      process.stdout.write(`switchyard init: interception rules applied (iptables ${tools.backend}, IPv4 and IPv6, ${o.mode})\n`);
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`switchyard init: ${String(err?.message ?? err).split('\n')[0]}\n`);
    return e instanceof InitError ? e.exitCode : 1;
  }
}
