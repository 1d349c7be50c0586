// ROUND_ROBIN: equal weights cycle through the hosts from a random start; unequal
// load_balancing_weight uses Envoy's EDF schedule (each host picked in proportion to its
// weight, interleaved), not a list with hosts repeated.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-round-robin
import type { Host } from '../host';
import { Edf } from './edf';
import type { LbBuildContext, LoadBalancer, LoadBalancerFactory } from './picker';
import { random32 } from './priority';
import { weightsEqual, ZoneAwareLb, type SourcePicker } from './zone_aware';

class Cycle implements SourcePicker {
  private next: number;
  constructor(private readonly hosts: Host[]) {
    // A random start so that several workers do not march in step.
    this.next = random32() % hosts.length;
  }
  pick(): Host | null {
    const h = this.hosts[this.next];
    this.next = this.next + 1 === this.hosts.length ? 0 : this.next + 1;
    return h;
  }
}

/** Weighted: EDF with the hosts' weights, advanced by a random number of picks (Envoy's seeded start). */
class WeightedCycle implements SourcePicker {
  private readonly edf: Edf;
  constructor(private readonly hosts: Host[]) {
    this.edf = new Edf(hosts.length, (i) => hosts[i].weight);
    for (let i = 0; i < hosts.length; i++) this.edf.add(i);
    const skip = random32() % hosts.length;
    for (let i = 0; i < skip; i++) this.edf.pickAndAdd();
  }
  pick(): Host | null {
    return this.hosts[this.edf.pickAndAdd()];
  }
}

export function roundRobinSource(hosts: Host[]): SourcePicker {
  return weightsEqual(hosts) ? new Cycle(hosts) : new WeightedCycle(hosts);
}

export const roundRobin: LoadBalancerFactory = {
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer {
    return new ZoneAwareLb(hosts, ctx, roundRobinSource);
  },
};
