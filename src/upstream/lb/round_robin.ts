// ROUND_ROBIN: cycles through the usable hosts. Weighted scheduling (Envoy's EDF) comes
// with the load-balancing issue; this picker already takes the weights it will need.
import type { Host } from '../host';
import { usableHosts, type LbContext, type LoadBalancer, type LoadBalancerFactory } from './picker';

class RoundRobin implements LoadBalancer {
  private next = 0;
  constructor(private readonly hosts: Host[]) {
    // Start at a random offset so that several workers do not march in step.
    this.next = hosts.length > 0 ? Math.floor(Math.random() * hosts.length) : 0;
  }

  pick(_ctx: LbContext | null): Host | null {
    const n = this.hosts.length;
    if (n === 0) return null;
    const h = this.hosts[this.next];
    this.next = this.next + 1 === n ? 0 : this.next + 1;
    return h;
  }
}

export const roundRobin: LoadBalancerFactory = {
  build(hosts: Host[]): LoadBalancer {
    return new RoundRobin(usableHosts(hosts));
  },
};
