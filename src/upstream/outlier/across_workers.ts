// Outlier detection with --concurrency > 1. Envoy's detector runs on the main thread and
// counts the results of every worker thread (consecutive errors, success rates), so one host
// returning errors is ejected once, from every worker, on the errors of all of them. Here a
// worker's STATIC and EDS clusters run no detector: each result the router or tcp_proxy
// reports goes into an OutlierForwarder, which sends them to the primary every FLUSH_MS; the
// primary replays them into its detector (replayOutlierEvents), and its ejections and
// returns reach the workers as host flags, with the health reports (health/across_workers.ts).
import type { Host } from '../host';
import type { OutlierResult, OutlierSink } from './host_monitor';

/**
 * A cluster's results since the last flush, per host key: an HTTP status as itself (≥ 0);
 * another result as two numbers, −1 − result and its status (0 when none).
 */
export type OutlierEvents = Array<[string, number[]]>;

/** How long results wait to be sent together (an ejection reaches the primary this much later at most). */
export const FLUSH_MS = 50;

/** In a worker: one cluster's results, gathered per host and sent to the primary. */
export class OutlierForwarder {
  private readonly pending = new Map<string, number[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly cluster: string,
    private readonly send: (cluster: string, events: OutlierEvents) => void,
  ) {}

  /** Gives every host of the cluster a sink that reports here. */
  setHosts(hosts: readonly Host[]): void {
    for (const h of hosts) {
      const o = h.outlier;
      if (!(o instanceof ForwardingSink && o.forwarder === this)) h.outlier = new ForwardingSink(this, h.key);
    }
  }

  /** @internal */
  record(key: string, a: number, b?: number): void {
    let list = this.pending.get(key);
    if (list === undefined) this.pending.set(key, (list = []));
    list.push(a);
    if (b !== undefined) list.push(b);
    if (this.timer === null) {
      this.timer = setTimeout(flushForwarder, FLUSH_MS, this);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    this.send(this.cluster, [...this.pending]);
    this.pending.clear();
  }

  /** The cluster is going: what was gathered still goes out. */
  stop(): void {
    this.flush();
  }
}

function flushForwarder(f: OutlierForwarder): void {
  f.flush();
}

class ForwardingSink implements OutlierSink {
  constructor(
    readonly forwarder: OutlierForwarder,
    private readonly key: string,
  ) {}

  putHttpResponseCode(code: number): void {
    this.forwarder.record(this.key, code);
  }

  putResult(r: OutlierResult, code = 0): void {
    this.forwarder.record(this.key, -1 - r, code);
  }
}

/** In the primary: a worker's results, fed to the monitors of the cluster's hosts in the order they happened there. */
export function replayOutlierEvents(hosts: readonly Host[], events: OutlierEvents): void {
  const byKey = new Map<string, Host>();
  for (const h of hosts) byKey.set(h.key, h);
  for (const [key, values] of events) {
    const sink = byKey.get(key)?.outlier;
    if (sink === null || sink === undefined) continue;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v >= 0) sink.putHttpResponseCode(v);
      else sink.putResult((-1 - v) as OutlierResult, values[++i]);
    }
  }
}
