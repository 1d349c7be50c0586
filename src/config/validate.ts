// `switchyard validate <file>`: like `envoy --mode validate`, but prints every problem,
// one per line as `FILE: path: message`, instead of stopping at the first.
import { loadBootstrapFile } from './bootstrap';
import { ConfigError } from './issues';

/** Returns the process exit code: 0 when the file is valid, 1 otherwise. */
export function validateCommand(path: string, out: (line: string) => void = (l) => process.stdout.write(l + '\n')): number {
  try {
    loadBootstrapFile(path);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const i of e.issues) out(`${path}: ${i.path ? i.path + ': ' : ''}${i.message}`);
    return 1;
  }
  out(`OK: ${path}`);
  return 0;
}
