// All clusters by name. Adding a cluster under an existing name swaps it in whole; the
// old one drains its pools (in-flight requests finish on their old connections).
import type { ClusterConfig } from '../config/types';
import type { StatsStore } from '../telemetry/stats';
import { Cluster, type SharedState } from './cluster';

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();
  /** With --concurrency > 1: how clusters share active health checking (set before the first cluster). */
  shared: SharedState = {};

  constructor(private readonly store: StatsStore) {}

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  addOrUpdate(config: ClusterConfig, addedViaApi = false): Cluster {
    const old = this.clusters.get(config.name);
    const c = new Cluster(config, this.store, addedViaApi, old, this.shared);
    this.clusters.set(config.name, c);
    old?.drain();
    return c;
  }

  remove(name: string): boolean {
    const c = this.clusters.get(name);
    if (c === undefined) return false;
    this.clusters.delete(name);
    c.drain();
    return true;
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  destroy(): void {
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
