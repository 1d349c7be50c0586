// The common frame of ROUND_ROBIN, LEAST_REQUEST and RANDOM (Envoy's ZoneAwareLoadBalancerBase /
// EdfLoadBalancerBase): a random number picks the priority level by its load; a level in panic
// uses all its hosts; with locality_weighted_lb_config a locality is picked by EDF over its
// effective weight (weight × min(1, overprovisioning × healthy / total)); then the policy's
// own picker chooses a host from that source. Every source's picker is built up front.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight
import type { Host } from '../host';
import { Edf } from './edf';
import type { LbBuildContext, LbContext, LoadBalancer } from './picker';
import { groupHosts, PriorityLoad, random32, type HostSet, type Locality } from './priority';

/** Picks a host from one fixed list; `r` is the pick's random number. */
export interface SourcePicker {
  pick(r: number): Host | null;
}

export type SourcePickerFactory = (hosts: Host[]) => SourcePicker;

const EMPTY: SourcePicker = { pick: () => null };

/** EDF over the localities with a positive effective weight; picks return the locality's picker. */
class LocalityPicker {
  private readonly edf: Edf;
  constructor(private readonly pickers: SourcePicker[], weights: number[]) {
    this.edf = new Edf(pickers.length, (i) => weights[i]);
    for (let i = 0; i < pickers.length; i++) this.edf.add(i);
  }
  pick(r: number): Host | null {
    return this.pickers[this.edf.pickAndAdd()].pick(r);
  }
}

function localityPicker(locs: Locality[], eligible: (l: Locality) => Host[], of: number, make: SourcePickerFactory): LocalityPicker | null {
  const pickers: SourcePicker[] = [];
  const weights: number[] = [];
  for (const l of locs) {
    const total = l.hosts.length;
    if (total === 0 || l.weight === 0) continue;
    const hosts = eligible(l);
    const eff = l.weight * Math.min(1, (of / 100) * (hosts.length / total));
    if (eff <= 0) continue;
    pickers.push(make(hosts));
    weights.push(eff);
  }
  return pickers.length === 0 ? null : new LocalityPicker(pickers, weights);
}

interface Sources {
  all: SourcePicker;
  healthy: SourcePicker;
  degraded: SourcePicker;
  healthyLocality: LocalityPicker | null;
  degradedLocality: LocalityPicker | null;
}

export class ZoneAwareLb implements LoadBalancer {
  private readonly load: PriorityLoad;
  private readonly sources: Sources[];

  constructor(hosts: Host[], private readonly ctx: LbBuildContext, make: SourcePickerFactory) {
    const sets = groupHosts(hosts);
    this.load = new PriorityLoad(sets, ctx.overprovisioningFactor, ctx.config.healthyPanicThreshold);
    const lw = ctx.config.localityWeighted;
    const of = ctx.overprovisioningFactor;
    const src = (h: Host[]) => (h.length === 0 ? EMPTY : make(h));
    this.sources = sets.map((s: HostSet) => ({
      all: src(s.hosts),
      healthy: src(s.healthy),
      degraded: src(s.degraded),
      healthyLocality: lw ? localityPicker(s.localities, (l) => l.healthy, of, make) : null,
      degradedLocality: lw ? localityPicker(s.localities, (l) => l.degraded, of, make) : null,
    }));
  }

  pick(_ctx: LbContext | null): Host | null {
    const r = random32();
    const pc = this.load.choose(r % 100);
    const p = pc >> 1;
    const s = this.sources[p];
    if (this.load.panic[p]) {
      this.ctx.stats?.lb_healthy_panic.inc();
      return s.all.pick(r);
    }
    const degraded = (pc & 1) === 1;
    const loc = degraded ? s.degradedLocality : s.healthyLocality;
    if (loc !== null) return loc.pick(r);
    return (degraded ? s.degraded : s.healthy).pick(r);
  }
}

export function weightsEqual(hosts: Host[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (hosts[i].weight !== hosts[0].weight) return false;
  return true;
}
