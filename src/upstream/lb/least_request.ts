// LEAST_REQUEST, as Envoy: with equal weights, sample `choice_count` random hosts and take the
// one with the fewest active requests (power of two choices by default; FULL_SCAN compares
// every host, ties broken at random). With unequal weights, EDF where a host's weight is
// load_balancing_weight / (active_requests + 1)^active_request_bias, recomputed each time the
// host is re-inserted after a pick (bias 0 is weighted round robin).
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-least-request
import type { Host } from '../host';
import { Edf } from './edf';
import type { LbBuildContext, LoadBalancer, LoadBalancerFactory } from './picker';
import { random32 } from './priority';
import { weightsEqual, ZoneAwareLb, type SourcePicker } from './zone_aware';

class Choices implements SourcePicker {
  constructor(private readonly hosts: Host[], private readonly n: number) {}
  pick(): Host | null {
    const hosts = this.hosts;
    let best = hosts[random32() % hosts.length];
    for (let i = 1; i < this.n; i++) {
      const h = hosts[random32() % hosts.length];
      if (h.stats.rq_active < best.stats.rq_active) best = h;
    }
    return best;
  }
}

class FullScan implements SourcePicker {
  constructor(private readonly hosts: Host[]) {}
  pick(): Host | null {
    let best: Host | null = null;
    let ties = 0;
    for (const h of this.hosts) {
      if (best === null || h.stats.rq_active < best.stats.rq_active) {
        best = h;
        ties = 1;
      } else if (h.stats.rq_active === best.stats.rq_active && random32() % ++ties === 0) {
        best = h; // reservoir sampling among the least loaded
      }
    }
    return best;
  }
}

class WeightedLeast implements SourcePicker {
  private readonly edf: Edf;
  constructor(private readonly hosts: Host[], bias: number) {
    const weight = (i: number): number => {
      const h = hosts[i];
      const active = h.stats.rq_active + 1;
      if (bias === 1) return h.weight / active;
      if (bias === 0) return h.weight;
      return h.weight / Math.pow(active, bias);
    };
    this.edf = new Edf(hosts.length, weight);
    for (let i = 0; i < hosts.length; i++) this.edf.add(i);
  }
  pick(): Host | null {
    return this.hosts[this.edf.pickAndAdd()];
  }
}

export const leastRequest: LoadBalancerFactory = {
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer {
    const c = ctx.config;
    return new ZoneAwareLb(hosts, ctx, (h) => {
      // Envoy applies FULL_SCAN where it applies N choices: to hosts of equal weight.
      if (weightsEqual(h)) return c.fullScan ? new FullScan(h) : new Choices(h, c.choiceCount);
      return new WeightedLeast(h, c.activeRequestBias);
    });
  },
};
