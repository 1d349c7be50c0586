// envoy.config.core.v3.ConfigSource (canonical form), wherever a resource names where its
// dependents come from: bootstrap lds_config / cds_config, Cluster eds_config, HCM
// rds.config_source. Switchyard fetches over the one ADS stream of the bootstrap (`ads: {}`)
// or from a file on disk (`path_config_source`, or the deprecated `path`); api_config_source
// and `self` are named and rejected.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ConfigIssues, join } from '../../config/issues';
import type { ConfigSourceSpec, PathSourceSpec } from '../../config/types';
import type { Canon } from '../proto/canonical';
import { NOT_SUPPORTED, onlyFields, readDurationMs, readEnum, readMessage, readString } from './fields';

/** Envoy: "The default is 15s" for ConfigSource.initial_fetch_timeout. */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** The sources of the config_source_specifier oneof that Switchyard does not fetch from. */
const OTHER_SOURCES = ['api_config_source', 'self'];

/**
 * Decodes a ConfigSource: `ads: {}` or a path (optionally with resource_api_version V3 and
 * initial_fetch_timeout). Returns undefined, with the problem reported, when it is neither.
 * An absent specifier is already reported by the proto layer (the oneof is required).
 */
export function decodeConfigSource(cs: Canon | undefined, path: string, issues: ConfigIssues): ConfigSourceSpec | undefined {
  if (!cs) return undefined;
  // authorities is xdstp:// federation, which Switchyard does not do.
  onlyFields(cs, path, issues, ['ads', 'path', 'path_config_source', 'initial_fetch_timeout', 'resource_api_version', ...OTHER_SOURCES]);
  let ok = true;
  for (const f of OTHER_SOURCES) {
    if (cs[f] !== undefined) {
      issues.add(join(path, f), `${NOT_SUPPORTED} yet (use "ads: {}" or "path_config_source")`);
      ok = false;
    }
  }
  const ads = readMessage(cs, 'ads');
  // AggregatedConfigSource has no fields; anything the proto layer let through is unknown to us.
  onlyFields(ads, join(path, 'ads'), issues, []);
  // AUTO (unset) means V3 for resources since Envoy dropped v2; V2 is gone.
  readEnum(cs, 'resource_api_version', path, issues, 'V3', ['AUTO', 'V3'] as const);
  const initialFetchTimeoutMs = readDurationMs(cs, 'initial_fetch_timeout', path, issues);
  const timeout = initialFetchTimeoutMs === undefined ? {} : { initialFetchTimeoutMs };
  const file = decodePathSource(cs, path, issues);
  if (!ok) return undefined;
  if (ads) return { kind: 'ads', ...timeout };
  if (file) return { ...file, ...timeout };
  return undefined;
}

/**
 * path_config_source {path, watched_directory {path}} or the deprecated string `path`.
 * Envoy: "The path to the source must exist at config load time."
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto#config-core-v3-pathconfigsource
 */
function decodePathSource(cs: Canon, path: string, issues: ConfigIssues): PathSourceSpec | undefined {
  const pcs = readMessage(cs, 'path_config_source');
  let file: string | undefined;
  let dir: string | undefined;
  let p = join(path, 'path');
  if (pcs) {
    const pp = join(path, 'path_config_source');
    onlyFields(pcs, pp, issues, ['path', 'watched_directory']);
    file = readString(pcs, 'path', '');
    p = join(pp, 'path');
    const wd = readMessage(pcs, 'watched_directory');
    if (wd) {
      onlyFields(wd, join(pp, 'watched_directory'), issues, ['path']);
      dir = readString(wd, 'path', '');
      const dp = join(join(pp, 'watched_directory'), 'path');
      if (!dir) issues.add(dp, 'is required');
      else if (!isDirectory(dir)) issues.add(dp, `"${dir}" is not a directory`);
    }
  } else if (typeof cs.path === 'string') {
    file = cs.path;
  } else return undefined;
  if (!file) {
    issues.add(p, 'is required');
    return undefined;
  }
  const abs = nodePath.resolve(file);
  if (!fs.existsSync(abs)) {
    issues.add(p, `"${file}" does not exist (the path must exist at config load time)`);
    return undefined;
  }
  return { kind: 'path', path: abs, ...(dir ? { watchedDirectory: nodePath.resolve(dir) } : {}) };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A stable key for a source: where its resources come from. */
export function sourceKey(s: ConfigSourceSpec): string {
  return s.kind === 'ads' ? 'ads' : `path:${s.path}`;
}
