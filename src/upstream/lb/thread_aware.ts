// The common frame of RING_HASH and MAGLEV (Envoy's ThreadAwareLoadBalancerBase): per priority
// level, the usable hosts (healthy, or all in panic) with weights normalised to sum to 1 —
// host weight / total, or with locality-weighted balancing locality weight / total ×
// host weight / locality total — feed one hash table. A pick takes the request's hash (or a
// random one when no hash policy produced any), picks the priority by hash % 100 against the
// priority loads, then asks that level's table. hash_balance_factor wraps the table in
// bounded loads.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#ring-hash
import type { Host } from '../host';
import type { LbBuildContext, LbContext, LoadBalancer } from './picker';
import { groupHosts, PriorityLoad, random32, type HostSet } from './priority';

export interface NormalizedWeights {
  hosts: Host[];
  weights: number[];
  min: number;
  max: number;
}

/** A hash table of hosts: ring or Maglev. `attempt` > 0 asks for an alternative host. */
export interface HashTable {
  choose(hi: number, lo: number, attempt: number): Host | null;
}

export type HashTableFactory = (w: NormalizedWeights, ctx: LbBuildContext) => HashTable;

function normalizeHosts(hosts: Host[], localityWeight: number, out: NormalizedWeights): void {
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  for (const h of hosts) {
    const w = (h.weight * localityWeight) / sum;
    out.hosts.push(h);
    out.weights.push(w);
    if (w < out.min) out.min = w;
    if (w > out.max) out.max = w;
  }
}

/** Envoy's normalizeWeights for one priority level. */
export function normalizeWeights(set: HostSet, panic: boolean, localityWeighted: boolean): NormalizedWeights {
  const out: NormalizedWeights = { hosts: [], weights: [], min: 1, max: 0 };
  if (!localityWeighted || set.localities.length === 0) {
    normalizeHosts(panic ? set.hosts : set.healthy, 1, out);
    return out;
  }
  let sum = 0;
  for (const l of set.localities) sum += l.weight;
  if (sum === 0) return out;
  for (const l of set.localities) {
    if (l.weight === 0) continue;
    const hosts = panic ? l.hosts : l.healthy;
    if (hosts.length > 0) normalizeHosts(hosts, l.weight / sum, out);
  }
  return out;
}

export class ThreadAwareLb implements LoadBalancer {
  private readonly load: PriorityLoad;
  private readonly tables: HashTable[];

  constructor(hosts: Host[], private readonly ctx: LbBuildContext, make: HashTableFactory) {
    const sets = groupHosts(hosts);
    this.load = new PriorityLoad(sets, ctx.overprovisioningFactor, ctx.config.healthyPanicThreshold);
    this.tables = sets.map((s, p) => {
      const w = normalizeWeights(s, this.load.panic[p], ctx.config.localityWeighted);
      const t = make(w, ctx);
      const factor = ctx.config.hashBalanceFactor;
      return factor > 0 && w.hosts.length > 0 ? new BoundedLoad(t, w, factor, ctx) : t;
    });
  }

  pick(c: LbContext | null): Host | null {
    let hi: number, lo: number;
    if (c !== null && c.hashSet) {
      hi = c.hashHi;
      lo = c.hashLo;
    } else {
      hi = random32();
      lo = random32();
    }
    // hash % 100 over the 64-bit value: 2^32 % 100 = 96.
    const pc = this.load.choose((((hi % 100) * 96) + lo) % 100);
    const p = pc >> 1;
    if (this.load.panic[p]) this.ctx.stats?.lb_healthy_panic.inc();
    // A host-selection retry (retry_host_predicate) asks the table for an alternative host.
    return this.tables[p].choose(hi, lo, c !== null ? c.hostSelectionAttempt ?? 0 : 0);
  }
}

/**
 * Bounded loads (consistent hashing with bounded loads, https://arxiv.org/abs/1608.01350):
 * a host may hold at most ceil(ceil((cluster active + 1) × factor / 100) × weight) active
 * requests; an overloaded pick walks the hosts in a shuffle seeded by the hash (mt19937, as
 * Envoy) for the first one under its bound, else the least overloaded.
 */
class BoundedLoad implements HashTable {
  private readonly index: Uint32Array;
  private readonly weightOf: Map<Host, number>;
  constructor(private readonly table: HashTable, private readonly w: NormalizedWeights, private readonly factor: number, private readonly ctx: LbBuildContext) {
    this.index = new Uint32Array(w.hosts.length);
    this.weightOf = new Map(w.hosts.map((h, i) => [h, w.weights[i]]));
  }

  private overload(h: Host, weight: number): number {
    const overall = this.ctx.stats?.upstream_rq_active.value ?? 0;
    const totalSlots = Math.floor(((overall + 1) * this.factor + 99) / 100);
    const slots = Math.max(Math.ceil(totalSlots * weight), 1);
    return h.stats.rq_active / slots;
  }

  choose(hi: number, lo: number, attempt: number): Host | null {
    const host = this.table.choose(hi, lo, attempt);
    if (host === null) return null;
    let factor = this.overload(host, this.weightOf.get(host) ?? 0);
    if (factor <= 1) return host;
    const n = this.w.hosts.length;
    const idx = this.index;
    for (let i = 0; i < n; i++) idx[i] = i;
    const rng = mt19937(lo);
    let best = host;
    let bestFactor = factor;
    for (let i = 0; i < n; i++) {
      const j = uniform(rng, n - i);
      const t = idx[i];
      idx[i] = idx[i + j];
      idx[i + j] = t;
      const k = idx[i];
      const alt = this.w.hosts[k];
      if (alt === host) continue;
      factor = this.overload(alt, this.w.weights[k]);
      if (factor <= 1) return alt;
      if (bestFactor > factor) {
        best = alt;
        bestFactor = factor;
      }
    }
    return best;
  }
}

/** Uniform in [0, k) from 32-bit outputs, by Envoy's rejection rule. */
function uniform(rng: () => number, k: number): number {
  const bucket = Math.floor(4294967296 / k);
  let x = k;
  while (x >= k) x = Math.floor(rng() / bucket);
  return x;
}

/** std::mt19937 seeded with a 32-bit value (the engine keeps seed mod 2^32). */
export function mt19937(seed: number): () => number {
  const mt = new Uint32Array(624);
  mt[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) {
    const x = mt[i - 1] ^ (mt[i - 1] >>> 30);
    mt[i] = (Math.imul(1812433253, x) + i) >>> 0;
  }
  let idx = 624;
  return () => {
    if (idx >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
        mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      idx = 0;
    }
    let y = mt[idx++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
}
