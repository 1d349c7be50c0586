// Envoy-style stats: counters and gauges with Envoy's dotted names.
// Instruments are created at config time and held by reference on the hot path
// (design convention 6): `cx.inc()` is a field increment, never a lookup by name.

export class Counter {
  value = 0;
  constructor(readonly name: string) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class Gauge {
  value = 0;
  constructor(readonly name: string) {}
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
  set(v: number): void {
    this.value = v;
  }
}

export class StatsStore {
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();

  /** Returns the counter of that name, creating it once; call at config time, keep the reference. */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new Counter(name)));
    return c;
  }

  gauge(name: string): Gauge {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new Gauge(name)));
    return g;
  }

  /** Removes every stat under a prefix (a removed cluster or listener). */
  removePrefix(prefix: string): void {
    for (const k of this.counters.keys()) if (k.startsWith(prefix)) this.counters.delete(k);
    for (const k of this.gauges.keys()) if (k.startsWith(prefix)) this.gauges.delete(k);
  }

  /** All stats sorted by name, as [name, value, kind]. */
  snapshot(): Array<{ name: string; value: number; kind: 'counter' | 'gauge' }> {
    const out: Array<{ name: string; value: number; kind: 'counter' | 'gauge' }> = [];
    for (const c of this.counters.values()) out.push({ name: c.name, value: c.value, kind: 'counter' });
    for (const g of this.gauges.values()) out.push({ name: g.name, value: g.value, kind: 'gauge' });
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }
}
