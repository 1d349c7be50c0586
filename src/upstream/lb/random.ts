// RANDOM: a uniformly random host of the chosen source. Like Envoy's random balancer it ignores
// endpoint weights (locality weights still apply through the zone-aware frame).
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#random
import type { Host } from '../host';
import type { LbBuildContext, LoadBalancer, LoadBalancerFactory } from './picker';
import { ZoneAwareLb, type SourcePicker } from './zone_aware';

class RandomSource implements SourcePicker {
  constructor(private readonly hosts: Host[]) {}
  pick(r: number): Host | null {
    return this.hosts[r % this.hosts.length];
  }
}

export const randomLb: LoadBalancerFactory = {
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer {
    return new ZoneAwareLb(hosts, ctx, (h) => new RandomSource(h));
  },
};
