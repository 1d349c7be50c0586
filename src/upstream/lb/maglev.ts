// MAGLEV placed exactly as Envoy's MaglevLoadBalancer (Maglev paper, listing 1, with weights):
// hosts sorted by their key; each host's permutation is offset = xxHash64(key, 0) % M,
// skip = xxHash64(key, 1) % (M - 1) + 1; in rounds, a host whose weight has caught up with
// its target (iteration × weight >= target; target += max weight) takes its next free slot.
// A pick is one table lookup: table[hash % M].
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#maglev
import type { Host } from '../host';
import type { LbBuildContext, LoadBalancer, LoadBalancerFactory } from './picker';
import { ThreadAwareLb, type HashTable, type NormalizedWeights } from './thread_aware';
import { h64, xxh64String } from './xxhash64';

export class MaglevTable implements HashTable {
  /** Slot → index into `hosts`. */
  readonly table: Uint32Array;
  readonly hosts: Host[];
  readonly m: number;
  /** Slots per host (in `hosts` order), for stats and tests. */
  readonly counts: Uint32Array;
  /** 2^32 mod M, to reduce a 64-bit hash modulo M in doubles. */
  private readonly twoTo32ModM: number;

  constructor(w: NormalizedWeights, tableSize: number, useHostname: boolean) {
    this.m = tableSize;
    this.twoTo32ModM = 4294967296 % tableSize;
    const n = w.hosts.length;
    // Envoy sorts the build entries by key so that the table does not depend on host order.
    const keys = w.hosts.map((h) => h.placementKey(useHostname));
    const order = keys.map((_k, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    this.hosts = order.map((i) => w.hosts[i]);
    this.counts = new Uint32Array(n);
    if (n === 0) {
      this.table = new Uint32Array(0);
      return;
    }
    const M = tableSize;
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const weight = new Float64Array(n);
    const target = new Float64Array(n);
    const next = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const key = keys[order[j]];
      xxh64String(key, 0);
      offset[j] = this.mod(h64.hi, h64.lo);
      xxh64String(key, 1);
      skip[j] = mod64(h64.hi, h64.lo, M - 1) + 1;
      weight[j] = w.weights[order[j]];
    }
    const EMPTY = 0xffffffff;
    const table = new Uint32Array(M).fill(EMPTY);
    const max = w.max;
    let filled = 0;
    for (let iteration = 1; filled < M; iteration++) {
      for (let j = 0; j < n && filled < M; j++) {
        if (iteration * weight[j] < target[j]) continue;
        target[j] += max;
        let c = (offset[j] + skip[j] * next[j]) % M;
        while (table[c] !== EMPTY) {
          next[j]++;
          c = (offset[j] + skip[j] * next[j]) % M;
        }
        table[c] = j;
        next[j]++;
        this.counts[j]++;
        filled++;
      }
    }
    this.table = table;
  }

  private mod(hi: number, lo: number): number {
    return ((hi % this.m) * this.twoTo32ModM + lo) % this.m;
  }

  choose(hi: number, lo: number, attempt: number): Host | null {
    if (this.table.length === 0) return null;
    if (attempt > 0) {
      // Envoy: hash ^= ~0 - attempt + 1, i.e. xor with 2^64 - attempt.
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ (4294967296 - attempt)) >>> 0;
    }
    return this.hosts[this.table[this.mod(hi, lo)]];
  }
}

function mod64(hi: number, lo: number, m: number): number {
  return ((hi % m) * (4294967296 % m) + lo) % m;
}

export const maglev: LoadBalancerFactory = {
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer {
    const c = ctx.config;
    return new ThreadAwareLb(hosts, ctx, (w) => new MaglevTable(w, c.tableSize, c.useHostnameForHashing));
  },
};
