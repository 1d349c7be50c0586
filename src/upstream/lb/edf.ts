// Earliest-deadline-first scheduling, Envoy's EdfScheduler: each entry's next deadline is
// the current time plus 1/weight; a pick takes the earliest deadline (ties by insertion
// order), moves the current time there and re-inserts the entry with its (possibly new)
// weight. Over time every entry is picked in proportion to its weight, interleaved rather
// than in runs. A binary heap on typed arrays: a pick is O(log n) and allocates nothing.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-round-robin

export class Edf {
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  private readonly item: Int32Array;
  private size = 0;
  private now = 0;
  private nextOrder = 0;

  /** `weightOf(i)` gives entry i's weight (> 0) when it is (re-)inserted. */
  constructor(capacity: number, private readonly weightOf: (i: number) => number) {
    this.deadline = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
    this.item = new Int32Array(capacity);
  }

  add(i: number): void {
    const w = this.weightOf(i);
    let k = this.size++;
    const d = this.now + 1 / w;
    const o = this.nextOrder++;
    // sift up
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.less(d, o, parent)) break;
      this.move(parent, k);
      k = parent;
    }
    this.deadline[k] = d;
    this.order[k] = o;
    this.item[k] = i;
  }

  get length(): number {
    return this.size;
  }

  /** Picks the entry with the earliest deadline and re-inserts it; -1 when empty. */
  pickAndAdd(): number {
    if (this.size === 0) return -1;
    const i = this.item[0];
    this.now = this.deadline[0];
    const d = this.now + 1 / this.weightOf(i);
    const o = this.nextOrder++;
    // replace the top and sift down
    const n = this.size;
    let k = 0;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.lessAt(r, l) ? r : l;
      if (!this.less(this.deadline[c], this.order[c], -1, d, o)) break;
      this.move(c, k);
      k = c;
    }
    this.deadline[k] = d;
    this.order[k] = o;
    this.item[k] = i;
    return i;
  }

  /** (d, o) sorts before slot j (or before (d2, o2) when j is -1). */
  private less(d: number, o: number, j: number, d2 = 0, o2 = 0): boolean {
    const dj = j >= 0 ? this.deadline[j] : d2;
    const oj = j >= 0 ? this.order[j] : o2;
    return d < dj || (d === dj && o < oj);
  }

  private lessAt(a: number, b: number): boolean {
    const da = this.deadline[a], db = this.deadline[b];
    return da < db || (da === db && this.order[a] < this.order[b]);
  }

  private move(from: number, to: number): void {
    this.deadline[to] = this.deadline[from];
    this.order[to] = this.order[from];
    this.item[to] = this.item[from];
  }
}
