// Collects every problem found while decoding a config, each with its field path, so
// that a user sees all of them at once (like `envoy --mode validate`) and a bad xDS
// resource can be NACKed with a precise error_detail (gRFC A46).

export interface ConfigIssue {
  /** Field path in Envoy's proto field names, e.g. `static_resources.clusters[2].connect_timeout`. */
  path: string;
  message: string;
}

export class ConfigIssues {
  readonly list: ConfigIssue[] = [];

  /** `path` may be a lazily built path (xds/proto/path.ts): rendered here, only for a problem. */
  add(path: string | { toString(): string }, message: string): void {
    this.list.push({ path: typeof path === 'string' ? path : path.toString(), message });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  /** One line per issue, `path: message`, prefixed with the source (a file name or resource name). */
  format(source?: string): string {
    return this.list
      .map((i) => `${source ? source + ': ' : ''}${i.path ? i.path + ': ' : ''}${i.message}`)
      .join('\n');
  }
}

/** Joins a field path: join('a', 'b') = 'a.b'; join('a', 0) = 'a[0]'; join('', 'b') = 'b'. */
export function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/** Thrown when a config has errors; carries all of them. */
export class ConfigError extends Error {
  readonly code = 'SY_CONFIG_INVALID';
  constructor(
    readonly issues: ConfigIssue[],
    readonly source?: string,
  ) {
    super(
      `invalid config${source ? ' in ' + source : ''} (${issues.length} error${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${source ? source + ': ' : ''}${i.path ? i.path + ': ' : ''}${i.message}`).join('\n'),
    );
  }
}
