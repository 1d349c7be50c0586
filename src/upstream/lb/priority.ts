// Hosts grouped the way Envoy's load balancers see them: per priority level a host set
// (all / healthy / degraded hosts, and the same per locality), plus the per-priority load
// computed from each level's availability with the overprovisioning factor, and each
// level's panic flag. Built once per host or health change; picking only reads it.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight
import type { Host } from '../host';

export interface Locality {
  key: string;
  /** The locality's load_balancing_weight (0 when unset). */
  weight: number;
  hosts: Host[];
  healthy: Host[];
  degraded: Host[];
}

export interface HostSet {
  priority: number;
  hosts: Host[];
  /** Healthy and not degraded (Envoy's healthyHosts()). */
  healthy: Host[];
  degraded: Host[];
  localities: Locality[];
}

/** The host's locality as one string (region/zone/sub_zone): what groups hosts into localities. */
export function localityKey(h: Host): string {
  const l = h.locality;
  return l === undefined ? '' : `${l.region ?? ''}/${l.zone ?? ''}/${l.sub_zone ?? ''}`;
}

/** Groups hosts by priority (0..max, gaps are empty sets) and, within one, by locality in order of appearance. */
export function groupHosts(hosts: readonly Host[]): HostSet[] {
  const sets: HostSet[] = [];
  let max = -1;
  for (const h of hosts) if (h.priority > max) max = h.priority;
  for (let p = 0; p <= max; p++) sets.push({ priority: p, hosts: [], healthy: [], degraded: [], localities: [] });
  if (sets.length === 0) sets.push({ priority: 0, hosts: [], healthy: [], degraded: [], localities: [] });
  const byKey = new Map<string, Locality>();
  for (const h of hosts) {
    const set = sets[h.priority];
    const k = h.priority + '|' + localityKey(h);
    let loc = byKey.get(k);
    if (loc === undefined) {
      loc = { key: k, weight: h.localityWeight, hosts: [], healthy: [], degraded: [] };
      byKey.set(k, loc);
      set.localities.push(loc);
    }
    const c = h.coarseHealth;
    set.hosts.push(h);
    loc.hosts.push(h);
    if (c === 0) {
      set.healthy.push(h);
      loc.healthy.push(h);
    } else if (c === 1) {
      set.degraded.push(h);
      loc.degraded.push(h);
    }
  }
  return sets;
}

/**
 * Per-priority load (percent, healthy and degraded) and panic flags, as Envoy's
 * LoadBalancerBase computes them: each level's availability is
 * min(100, overprovisioning_factor × healthy / total); the levels share 100% in priority
 * order, scaled up when their total availability is below 100; a level whose healthy+degraded
 * share is under the panic threshold is in panic (unless the total is 100), and when every
 * level is, load follows host counts instead.
 */
export class PriorityLoad {
  readonly healthyLoad: number[];
  readonly degradedLoad: number[];
  readonly panic: boolean[];

  constructor(readonly sets: HostSet[], overprovisioningFactor: number, panicThreshold: number) {
    const n = sets.length;
    const health = new Array<number>(n).fill(0);
    const degraded = new Array<number>(n).fill(0);
    this.healthyLoad = new Array<number>(n).fill(0);
    this.degradedLoad = new Array<number>(n).fill(0);
    this.panic = new Array<boolean>(n).fill(false);
    for (let p = 0; p < n; p++) {
      const total = sets[p].hosts.length;
      if (total === 0) continue;
      health[p] = Math.min(100, Math.floor((overprovisioningFactor * sets[p].healthy.length) / total));
      degraded[p] = Math.min(100, Math.floor((overprovisioningFactor * sets[p].degraded.length) / total));
    }
    let sum = 0;
    for (let p = 0; p < n; p++) sum += health[p] + degraded[p];
    const nta = Math.min(100, sum);
    if (nta > 0) {
      const [firstHealthy, left] = distribute(this.healthyLoad, health, 100, nta);
      const [firstDegraded, rest] = distribute(this.degradedLoad, degraded, left, nta);
      if (rest !== 0) {
        if (firstHealthy !== -1) this.healthyLoad[firstHealthy] += rest;
        else this.degradedLoad[firstDegraded] += rest;
      }
    }
    const threshold = Math.min(100, panicThreshold);
    if (threshold === 0 && nta === 0) {
      this.healthyLoad[0] = 100;
      return;
    }
    let totalPanic = true;
    for (let p = 0; p < n; p++) {
      this.panic[p] = nta === 100 ? false : inPanic(sets[p], threshold);
      totalPanic = totalPanic && this.panic[p];
    }
    if (totalPanic) this.loadInTotalPanic();
  }

  private loadInTotalPanic(): void {
    const sets = this.sets;
    let all = 0;
    for (const s of sets) all += s.hosts.length;
    if (all === 0) {
      this.healthyLoad[0] = 100;
      return;
    }
    let left = 100;
    let firstNonEmpty = -1;
    for (let p = 0; p < sets.length; p++) {
      const k = sets[p].hosts.length;
      if (firstNonEmpty === -1 && k !== 0) firstNonEmpty = p;
      const load = Math.floor((100 * k) / all);
      this.healthyLoad[p] = load;
      this.degradedLoad[p] = 0;
      left -= load;
    }
    this.healthyLoad[firstNonEmpty] += left;
  }

  /**
   * Envoy's choosePriority: `hashMod100` is hash % 100 (a request hash or a random number).
   * Returns priority × 2, plus 1 when the pick targets degraded hosts.
   */
  choose(hashMod100: number): number {
    const h = hashMod100 + 1;
    let agg = 0;
    const hl = this.healthyLoad;
    for (let p = 0; p < hl.length; p++) {
      agg += hl[p];
      if (h <= agg) return p * 2;
    }
    const dl = this.degradedLoad;
    for (let p = 0; p < dl.length; p++) {
      agg += dl[p];
      if (h <= agg) return p * 2 + 1;
    }
    return 0;
  }
}

function distribute(load: number[], avail: number[], total: number, nta: number): [number, number] {
  let first = -1;
  for (let i = 0; i < avail.length; i++) {
    if (first < 0 && avail[i] > 0) first = i;
    load[i] = Math.min(total, Math.floor((avail[i] * 100) / nta));
    total -= load[i];
  }
  return [first, total];
}

function inPanic(set: HostSet, threshold: number): boolean {
  const n = set.hosts.length;
  const healthy = n === 0 ? 0 : (100 * set.healthy.length) / n;
  const degraded = n === 0 ? 0 : (100 * set.degraded.length) / n;
  return healthy + degraded < threshold;
}

/** A uniformly random 32-bit unsigned integer (Envoy draws 64 bits; picks only ever take it modulo small numbers). */
export function random32(): number {
  return (Math.random() * 4294967296) >>> 0;
}
