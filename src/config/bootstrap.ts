// Loads a bootstrap file (YAML or JSON, Envoy's format), decodes it through the proto3
// JSON mapping as envoy.config.bootstrap.v3.Bootstrap, then maps it to domain types.
// All problems are collected and thrown together as one ConfigError.
import * as fs from 'node:fs';
import * as yaml from 'js-yaml';
import { fromJson } from '../xds/proto/json';
import { decodeBootstrapCanon } from '../xds/resources/bootstrap';
import { ConfigError, ConfigIssues } from './issues';
import type { BootstrapConfig } from './types';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

/** Reads, parses and decodes `path`; throws ConfigError (source = path) listing every issue. */
export function loadBootstrapFile(path: string): BootstrapConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read file: ${(e as Error).message}` }], path);
  }
  return decodeBootstrap(parseConfigText(text, path), path);
}

/** YAML (a superset of JSON) → plain value; a syntax error names the line and column. */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return yaml.load(text, { filename: source });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const m = e.mark;
      const where = m ? `line ${m.line + 1}, column ${m.column + 1}` : '';
      throw new ConfigError([{ path: where, message: `YAML syntax error: ${e.reason}` }], source);
    }
    throw e;
  }
}

/** Decodes an already parsed bootstrap value; throws ConfigError with every issue. */
export function decodeBootstrap(value: unknown, source: string): BootstrapConfig {
  const issues = new ConfigIssues();
  if (value === undefined || value === null) {
    throw new ConfigError([{ path: '', message: 'bootstrap is empty' }], source);
  }
  const canon = fromJson(value, BOOTSTRAP_TYPE, issues);
  const cfg = canon ? decodeBootstrapCanon(canon, source, issues) : undefined;
  if (!issues.ok || !cfg) throw new ConfigError(dedupe(issues).list, source);
  return cfg;
}

/** Some checks run at both layers (e.g. a required field); report each path+message once. */
function dedupe(issues: ConfigIssues): ConfigIssues {
  const out = new ConfigIssues();
  const seen = new Set<string>();
  for (const i of issues.list) {
    const k = `${i.path}\u0000${i.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.add(i.path, i.message);
    }
  }
  return out;
}
