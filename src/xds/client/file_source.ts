// Resources from a file on disk: a ConfigSource's path_config_source (Envoy's filesystem
// subscription). The file holds one DiscoveryResponse in YAML or JSON, its `resources`
// written as Anys with `@type`, and is watched: a change reloads it and delivers the
// resources as a state-of-the-world response would, through the same WatchState.commit as
// the ADS stream, so every resource is validated on its own, a bad one keeps its last good
// copy and shows in /config_dump with its error_state, and (for Listener and Cluster, whose
// responses are the whole set) a resource gone from the file is removed. A file that does
// not parse keeps everything as it was and is logged.
//
// Watching (PathConfigSource doc): without watched_directory Envoy watches the path for
// moves onto it, as writers that replace the file atomically (write a temp file, rename it
// over) do; with watched_directory, a move into that directory reloads the path (a
// Kubernetes ConfigMap swaps a symlinked directory). Both are directory watches here, which
// also see in-place writes; events are coalesced and an unchanged file is not re-applied.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto#config-core-v3-pathconfigsource
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as yaml from 'js-yaml';
import { ConfigIssues } from '../../config/issues';
import type { PathSourceSpec } from '../../config/types';
import { log } from '../../log';
import { toAny } from '../proto/binary';
import { typeName } from '../proto/canonical';
import { fromJson } from '../proto/json';
import { lookupType } from '../proto/root';
import { DecodedBatch, RawAny, ResourceError, decodeSotw, nameField } from './decode';
import type { ReadyResult, TypeDump, WatchHandler, WatchNames, WatchOptions } from './types';
import { WatchState, defaultNames, sotwRemovals } from './watch_state';

/** Quiet time after the last file event before reading: one write makes several events. */
const SETTLE_MS = 30;

const RESPONSE_TYPE = 'envoy.service.discovery.v3.DiscoveryResponse';

/** What the manager needs from a source of resources: the ADS client or a file. */
export interface XdsSource {
  watch(typeUrl: string, names: WatchNames | undefined, handler: WatchHandler, opts?: WatchOptions): void;
  updateWatch(typeUrl: string, names: WatchNames): void;
  unwatch(typeUrl: string): void;
  ready(typeUrl: string): Promise<ReadyResult>;
  configDump(): TypeDump[];
  close(): Promise<void>;
}

export class FileSource implements XdsSource {
  private readonly watches = new Map<string, WatchState>();
  /** Watches that must get the file even if it did not change (new, or names changed). */
  private readonly pending = new Set<WatchState>();
  private watcher: fs.FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastText: string | null = null;
  private closed = false;

  constructor(readonly spec: PathSourceSpec) {}

  watch(typeUrl: string, names: WatchNames | undefined, handler: WatchHandler, opts: WatchOptions = {}): void {
    if (this.watches.has(typeUrl)) throw new Error(`${typeUrl} is already watched in ${this.spec.path}; use updateWatch`);
    const n = names ?? defaultNames(typeUrl);
    if (n === undefined) throw new Error(`${typeUrl} is subscribed by name: give the names`);
    const w = new WatchState(typeUrl, n, handler, opts.initialFetchTimeoutMs);
    this.watches.set(typeUrl, w);
    this.startWatching();
    this.pending.add(w);
    this.schedule(0);
  }

  updateWatch(typeUrl: string, names: WatchNames): void {
    const w = this.watches.get(typeUrl);
    if (w === undefined) throw new Error(`${typeUrl} is not watched in ${this.spec.path}`);
    w.setNames(names);
    this.pending.add(w);
    this.schedule(0);
  }

  unwatch(typeUrl: string): void {
    const w = this.watches.get(typeUrl);
    if (w === undefined) return;
    this.watches.delete(typeUrl);
    this.pending.delete(w);
    w.markReady('timeout');
    if (this.watches.size === 0) this.stopWatching();
  }

  ready(typeUrl: string): Promise<ReadyResult> {
    const w = this.watches.get(typeUrl);
    if (w === undefined) throw new Error(`${typeUrl} is not watched in ${this.spec.path}`);
    return w.ready;
  }

  configDump(): TypeDump[] {
    return [...this.watches.values()].map((w) => w.dump());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatching();
    for (const w of this.watches.values()) w.markReady('timeout');
  }

  private startWatching(): void {
    if (this.watcher !== null || this.closed) return;
    const dir = this.spec.watchedDirectory ?? nodePath.dirname(this.spec.path);
    const base = nodePath.basename(this.spec.path);
    try {
      this.watcher = fs.watch(dir, { persistent: false }, (_event, filename) => {
        // watched_directory: anything moved into it reloads the path; otherwise only the path itself.
        if (this.spec.watchedDirectory !== undefined || filename === null || filename === base) this.schedule(SETTLE_MS);
      });
      this.watcher.on('error', (e) => log.error('config file watch failed', { path: this.spec.path, error: e.message }));
    } catch (e) {
      log.error('cannot watch config file; it will not be reloaded', { path: this.spec.path, dir, error: (e as Error).message });
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** (Re)arms the one reload timer: events within SETTLE_MS of each other make one read. */
  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load();
    }, ms);
  }

  private load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.spec.path, 'utf8');
    } catch (e) {
      this.fail([...this.watches.values()], `cannot read the file: ${(e as Error).message}`);
      return;
    }
    const changed = text !== this.lastText;
    const targets = changed ? [...this.watches.values()] : [...this.pending];
    this.pending.clear();
    if (targets.length === 0) return;
    this.lastText = text;
    const parsed = parseResponse(text, this.spec.path);
    if ('error' in parsed) {
      this.fail(targets, parsed.error);
      return;
    }
    for (const w of targets) {
      const batch = decodeFileResources(w.typeUrl, parsed.resources, parsed.versionInfo);
      const outcome = w.commit(parsed.versionInfo, '', batch, sotwRemovals(w.typeUrl, w.accepted.keys(), batch));
      if (outcome.t === 'ack') log.info('config file applied', { path: this.spec.path, type: typeName(w.typeUrl), version: parsed.versionInfo });
      else log.warn('config file: resources rejected', { path: this.spec.path, type: typeName(w.typeUrl), version: parsed.versionInfo, details: outcome.details });
    }
  }

  /** The whole file is unusable: every watch keeps what it has; the error is logged and kept as its last NACK. */
  private fail(targets: WatchState[], details: string): void {
    const time = new Date().toISOString();
    log.error('config file rejected; keeping the last good config', { path: this.spec.path, error: details });
    for (const w of targets) {
      w.lastNack = { version_info: '', nonce: '', details: `${this.spec.path}: ${details}`, time };
      w.markReady('received');
    }
  }
}

type Parsed = { versionInfo: string; resources: unknown[] } | { error: string };

/** The file as a DiscoveryResponse: YAML (or JSON) with `version_info` and `resources`. */
function parseResponse(text: string, source: string): Parsed {
  let v: unknown;
  try {
    v = yaml.load(text, { filename: source });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const where = e.mark ? `line ${e.mark.line + 1}, column ${e.mark.column + 1}: ` : '';
      return { error: `${where}YAML syntax error: ${e.reason}` };
    }
    return { error: String(e) };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a DiscoveryResponse (an object with "resources")' };
  const { resources, ...rest } = v as Record<string, unknown>;
  // Everything but the resources goes through the proto3 JSON decoder: unknown fields,
  // wrong types. Resources are decoded one by one below, so one bad one stays on its own.
  const issues = new ConfigIssues();
  const top = fromJson(rest, RESPONSE_TYPE, issues);
  if (resources !== undefined && resources !== null && !Array.isArray(resources)) issues.add('resources', 'expected a list');
  if (!issues.ok) return { error: issues.format() };
  return { versionInfo: typeof top?.version_info === 'string' ? top.version_info : '', resources: (resources as unknown[] | undefined) ?? [] };
}

/**
 * Each `{"@type": ..., ...}` resource through the proto3 JSON mapping into binary Any, then
 * through decodeSotw as an ADS response's resources go (PGV rules, names, duplicates). A
 * resource whose JSON does not decode is an error under its own name.
 */
export function decodeFileResources(typeUrl: string, resources: readonly unknown[], versionInfo: string): DecodedBatch {
  const anys: RawAny[] = [];
  const jsonErrors: ResourceError[] = [];
  resources.forEach((r, i) => {
    const index = `resources[${i}]`;
    const o = typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined;
    const url = o?.['@type'];
    const n = o?.[nameField(typeUrl)];
    const name = typeof n === 'string' && n !== '' ? n : undefined;
    if (typeof url !== 'string' || url === '') {
      jsonErrors.push({ name, index, path: '@type', message: 'missing (each resource is an Any: {"@type": ..., ...})' });
      return;
    }
    if (url !== typeUrl) {
      jsonErrors.push({ name, index, path: '@type', message: `expected "${typeUrl}", got "${url}"` });
      return;
    }
    const t = lookupType(typeName(url))!;
    const issues = new ConfigIssues();
    const { ['@type']: _t, ...fields } = o!;
    const canon = fromJson(fields, t, issues);
    if (!issues.ok || canon === undefined) {
      for (const x of issues.list) jsonErrors.push({ name, index, path: x.path, message: x.message });
      return;
    }
    try {
      anys.push(toAny(typeName(url), canon, url.slice(0, url.length - typeName(url).length)));
    } catch (e) {
      jsonErrors.push({ name, index, path: '', message: (e as Error).message });
    }
  });
  const batch = decodeSotw(typeUrl, anys, versionInfo);
  // A name that failed in JSON cannot also be good: a duplicate, which decodeSotw cannot see.
  for (const e of jsonErrors) if (e.name !== undefined) batch.good.delete(e.name);
  batch.errors.push(...jsonErrors);
  return batch;
}

