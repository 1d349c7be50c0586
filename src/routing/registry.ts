// Route tables by name, for connection managers that take their routes over RDS. A new
// table is swapped in whole (design convention 3); connection managers watching the name
// switch to it for new requests with no drain, as Envoy does for an RDS update.
import type { RouteTable } from './types';

type Watcher = (t: RouteTable | null) => void;

export class RouteTableRegistry {
  private readonly tables = new Map<string, { table: RouteTable; version: string; lastUpdated: Date }>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  get(name: string): RouteTable | null {
    return this.tables.get(name)?.table ?? null;
  }

  set(name: string, table: RouteTable, version: string): void {
    this.tables.set(name, { table, version, lastUpdated: new Date() });
    for (const w of this.watchers.get(name) ?? []) w(table);
  }

  delete(name: string): void {
    if (!this.tables.delete(name)) return;
    for (const w of this.watchers.get(name) ?? []) w(null);
  }

  /** Calls `w` on every change of `name`; returns the unsubscribe function. */
  watch(name: string, w: Watcher): () => void {
    let set = this.watchers.get(name);
    if (set === undefined) this.watchers.set(name, (set = new Set()));
    set.add(w);
    return () => {
      set!.delete(w);
      if (set!.size === 0) this.watchers.delete(name);
    };
  }

  /** Names some connection manager is waiting for (what RDS must subscribe to). */
  watchedNames(): string[] {
    return [...this.watchers.keys()];
  }

  entries(): Array<{ name: string; table: RouteTable; version: string; lastUpdated: Date }> {
    return [...this.tables].map(([name, e]) => ({ name, ...e }));
  }
}
