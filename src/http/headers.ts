// A small ordered header map with lower-case names (Envoy lower-cases header keys by
// default too). Two parallel arrays: cheap to build from a parsed HTTP/1.1 head, cheap
// to scan for the handful of headers routing looks at. Pseudo-headers (:method, :path,
// :authority, :scheme, :status) are not stored here; they live on the heads.

export class HeaderMap {
  names: string[] = [];
  values: string[] = [];

  get size(): number {
    return this.names.length;
  }

  /** First value of a header (lower-case name), or undefined. */
  get(name: string): string | undefined {
    const n = this.names;
    for (let i = 0; i < n.length; i++) if (n[i] === name) return this.values[i];
    return undefined;
  }

  /** All values of a header joined with ',' (as Envoy's header matchers see them), or undefined. */
  getJoined(name: string): string | undefined {
    let out: string | undefined;
    const n = this.names;
    for (let i = 0; i < n.length; i++) {
      if (n[i] === name) out = out === undefined ? this.values[i] : out + ',' + this.values[i];
    }
    return out;
  }

  has(name: string): boolean {
    return this.names.indexOf(name) !== -1;
  }

  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }

  /** Replaces every value of `name` with one value. */
  set(name: string, value: string): void {
    const i = this.names.indexOf(name);
    if (i === -1) {
      this.add(name, value);
      return;
    }
    this.values[i] = value;
    this.removeFrom(name, i + 1);
  }

  remove(name: string): void {
    this.removeFrom(name, 0);
  }

  private removeFrom(name: string, start: number): void {
    const n = this.names;
    if (n.indexOf(name, start) === -1) return; // the common case: nothing to remove, no writes
    let w = start;
    for (let r = start; r < n.length; r++) {
      if (n[r] !== name) {
        n[w] = n[r];
        this.values[w] = this.values[r];
        w++;
      }
    }
    n.length = w;
    this.values.length = w;
  }

  clone(): HeaderMap {
    const h = new HeaderMap();
    h.names = this.names.slice();
    h.values = this.values.slice();
    return h;
  }

  /** As a plain object (repeated names joined with ', ', set-cookie kept as an array). */
  toObject(): Record<string, string | string[]> {
    const o: Record<string, string | string[]> = {};
    for (let i = 0; i < this.names.length; i++) {
      const k = this.names[i];
      const v = this.values[i];
      const prev = o[k];
      if (prev === undefined) o[k] = k === 'set-cookie' ? [v] : v;
      else if (Array.isArray(prev)) prev.push(v);
      else o[k] = prev + ', ' + v;
    }
    return o;
  }
}
