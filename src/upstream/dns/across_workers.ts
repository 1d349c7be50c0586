// DNS resolution with --concurrency > 1. Envoy resolves a STRICT_DNS or LOGICAL_DNS cluster's
// names once, on its main thread, and hands every worker thread the same host set. Switchyard
// does the same with processes: the primary's config server resolves (and refreshes) the
// names, and sends each new answer to the workers; a worker's DNS clusters resolve nothing
// and build their hosts from the primary's answer. So every worker balances over the same
// hosts, the names are looked up once per refresh instead of once per process, and the
// cluster's health checks and outlier detection can run once as well (health/ and
// outlier/across_workers.ts), as for STATIC and EDS clusters.

/**
 * One DNS cluster's answer as the primary sends it: per endpoint it resolved, in the order of
 * the cluster's config, the endpoint's `address:port` as configured and the addresses found.
 * The `address:port` lets a worker check that the answer is for the endpoints it has (a CDS
 * update may have changed them); LOGICAL_DNS resolves only its first endpoint.
 */
export interface DnsReport {
  cluster: string;
  endpoints: Array<[string, string[]]>;
}

/** The resolving side (the primary's config server): where its DNS clusters send each new answer. */
export interface DnsPublisher {
  publish(r: DnsReport): void;
}

/** In a worker: the latest answer per cluster name, and the DNS cluster that follows each name. */
export class DnsFollowers {
  private readonly latest = new Map<string, DnsReport>();
  private readonly live = new Map<string, (r: DnsReport) => void>();

  /** An answer from the primary: kept for a cluster made later, applied to the one following it now. */
  deliver(r: DnsReport): void {
    this.latest.set(r.cluster, r);
    this.live.get(r.cluster)?.(r);
  }

  /**
   * A worker's DNS cluster takes its answers from the primary: the latest one at once, if
   * there is one, and every later one. Returns the function that stops following.
   */
  follow(cluster: string, onAnswer: (r: DnsReport) => void): () => void {
    this.live.set(cluster, onAnswer);
    const r = this.latest.get(cluster);
    if (r !== undefined) onAnswer(r);
    return () => {
      if (this.live.get(cluster) === onAnswer) this.live.delete(cluster);
    };
  }
}
