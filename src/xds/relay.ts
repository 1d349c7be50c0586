// --concurrency N with xDS: the primary process runs the one ADS stream (and the file
// watches) and the workers apply what it accepted, so a management server sees one node
// stream, as it would from one Envoy. The primary's XdsManager reports every update it is
// handed (onUpdate); the primary sends them to the workers in order, and a worker that
// starts (or restarts) first gets a snapshot of everything accepted so far. In a worker,
// RelaySource stands in for the ADS client and the files: it hands those updates to the
// worker's own XdsManager, which decodes and applies them with the same handlers, warming
// included (src/workers.ts does the messaging).
import type { ReadyResult, ResourceUpdate, TypeDump, VersionedCanon, WatchHandler, WatchNames } from './client/types';
import type { XdsSource } from './client/file_source';
import { log } from '../log';
import { typeName } from './proto/canonical';

/** A ResourceUpdate as it crosses the IPC channel (Maps become entry lists). */
export interface WireUpdate {
  type: string;
  added: Array<[string, VersionedCanon]>;
  removed: readonly string[];
  versionInfo: string;
}

export function toWire(type: string, u: ResourceUpdate): WireUpdate {
  return { type, added: [...u.added], removed: u.removed, versionInfo: u.versionInfo };
}

/**
 * Everything a manager's sources accepted, as updates that rebuild it from nothing: clusters,
 * then their endpoints (so EDS clusters leave warming), then route tables, then listeners
 * (which find their routes present and bind at once).
 */
export function snapshotUpdates(dump: readonly TypeDump[], order: readonly string[]): WireUpdate[] {
  const out: WireUpdate[] = [];
  for (const type of order) {
    const t = dump.find((d) => d.type_url === type);
    if (t === undefined) continue;
    const added: Array<[string, VersionedCanon]> = [];
    for (const r of t.resources) if (r.resource !== undefined) added.push([r.name, { resource: r.resource, version: r.version ?? '' }]);
    if (added.length > 0) out.push({ type, added, removed: [], versionInfo: t.version_info });
  }
  return out;
}

/** A worker's source: updates come from the primary; subscriptions are the primary's business. */
export class RelaySource implements XdsSource {
  private readonly handlers = new Map<string, WatchHandler>();
  private readonly initial: Promise<ReadyResult>;
  private settle: ((r: ReadyResult) => void) | undefined;

  constructor() {
    this.initial = new Promise((resolve) => (this.settle = resolve));
  }

  /** The manager's handler per type, bound once (a type may get updates before the worker would subscribe to it). */
  bind(type: string, handler: WatchHandler): void {
    this.handlers.set(type, handler);
  }

  /** Applies updates from the primary, in order; `initial` marks the first snapshot. */
  deliver(updates: readonly WireUpdate[], initial: boolean): void {
    for (const u of updates) {
      this.handlers.get(u.type)?.apply({ added: new Map(u.added), removed: u.removed, versionInfo: u.versionInfo });
      log.info('applied xds update from the primary', { type: typeName(u.type), version: u.versionInfo, added: u.added.length, removed: u.removed.length });
    }
    if (initial) {
      this.settle?.('received');
      this.settle = undefined;
    }
  }

  watch(_typeUrl: string, _names: WatchNames | undefined, _handler: WatchHandler): void {}
  updateWatch(_typeUrl: string, _names: WatchNames): void {}
  unwatch(_typeUrl: string): void {}

  /** Resolves when the primary's first snapshot (sent once its initial fetch is done) is applied. */
  ready(_typeUrl: string): Promise<ReadyResult> {
    return this.initial;
  }

  configDump(): TypeDump[] {
    return [];
  }

  async close(): Promise<void> {
    this.settle?.('timeout');
  }
}
