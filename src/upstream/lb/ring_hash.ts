// RING_HASH placed exactly as Envoy's RingHashLoadBalancer: scale = min(ceil(min_weight ×
// minimum_ring_size) / min_weight, maximum_ring_size); walking hosts in order with running
// sums, a host gets entries while current < target (target += scale × weight); entry i of a
// host is xxHash64("<key>_<i>", seed 0), key = "ip:port" (or hostname / metadata hash_key);
// entries sorted by hash. A pick is Envoy's (ketama) binary search for the first entry whose
// hash is >= the request's, wrapping to entry 0.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#ring-hash
import type { Host } from '../host';
import type { LbBuildContext, LoadBalancer, LoadBalancerFactory } from './picker';
import { ThreadAwareLb, type HashTable, type NormalizedWeights } from './thread_aware';
import { h64, xxh64Bytes } from './xxhash64';

export class Ring implements HashTable {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly owner: Uint32Array;
  readonly size: number;
  readonly hosts: Host[];
  /** Fewest and most entries of one host (Envoy's min/max_hashes_per_host). */
  minHashesPerHost = 0;
  maxHashesPerHost = 0;

  constructor(w: NormalizedWeights, minRing: number, maxRing: number, useHostname: boolean) {
    this.hosts = w.hosts;
    if (w.hosts.length === 0) {
      this.hi = this.lo = this.owner = new Uint32Array(0);
      this.size = 0;
      return;
    }
    const scale = Math.min(Math.ceil(w.min * minRing) / w.min, maxRing);
    const cap = Math.ceil(scale) + w.hosts.length + 1;
    const hi = new Uint32Array(cap);
    const lo = new Uint32Array(cap);
    const owner = new Uint32Array(cap);
    let n = 0;
    let current = 0;
    let target = 0;
    let minH = Infinity;
    let maxH = 0;
    let buf = Buffer.allocUnsafe(256);
    for (let k = 0; k < w.hosts.length; k++) {
      const key = w.hosts[k].placementKey(useHostname);
      const need = Buffer.byteLength(key) + 24;
      if (need > buf.length) buf = Buffer.allocUnsafe(need * 2);
      let plen = buf.write(key, 0, 'utf8');
      buf[plen++] = 0x5f; // '_'
      target += scale * w.weights[k];
      let i = 0;
      while (current < target) {
        const len = plen + writeDecimal(buf, plen, i);
        xxh64Bytes(buf, len, 0);
        if (n === cap) break; // cannot happen with the sums above; guards the arrays
        hi[n] = h64.hi;
        lo[n] = h64.lo;
        owner[n] = k;
        n++;
        i++;
        current++;
      }
      if (i < minH) minH = i;
      if (i > maxH) maxH = i;
    }
    this.minHashesPerHost = minH;
    this.maxHashesPerHost = maxH;
    const order = sortByHash(hi, lo, n);
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.owner = new Uint32Array(n);
    for (let j = 0; j < n; j++) {
      const o = order[j];
      this.hi[j] = hi[o];
      this.lo[j] = lo[o];
      this.owner[j] = owner[o];
    }
    this.size = n;
  }

  /** Index of the ring entry for hash hi:lo, by Envoy's search (including its ketama quirks). */
  entryFor(h: number, l: number): number {
    const n = this.size;
    const rh = this.hi;
    const rl = this.lo;
    let low = 0;
    let high = n;
    let mid = 0;
    for (;;) {
      mid = Math.trunc((low + high) / 2);
      if (mid === n) return 0;
      const mh = rh[mid], ml = rl[mid];
      const leMid = h < mh || (h === mh && l <= ml);
      let gtPrev: boolean;
      if (mid === 0) gtPrev = h !== 0 || l !== 0;
      else {
        const ph = rh[mid - 1], pl = rl[mid - 1];
        gtPrev = h > ph || (h === ph && l > pl);
      }
      if (leMid && gtPrev) return mid;
      if (!leMid) low = mid + 1;
      else high = mid - 1;
      if (low > high) return 0;
    }
  }

  choose(h: number, l: number, attempt: number): Host | null {
    if (this.size === 0) return null;
    let e = this.entryFor(h, l);
    if (attempt > 0) e = (e + attempt) % this.size;
    return this.hosts[this.owner[e]];
  }
}

/** Writes i in decimal at buf[at..]; returns the digit count. */
function writeDecimal(buf: Buffer, at: number, i: number): number {
  if (i === 0) {
    buf[at] = 0x30;
    return 1;
  }
  let digits = 0;
  for (let v = i; v > 0; v = Math.floor(v / 10)) digits++;
  for (let k = digits - 1, v = i; k >= 0; k--, v = Math.floor(v / 10)) buf[at + k] = 0x30 + (v % 10);
  return digits;
}

/** Indices 0..n-1 ordered by the 64-bit value hi:lo: LSD radix sort, 16 bits a pass (8M entries in well under a second). */
function sortByHash(hi: Uint32Array, lo: Uint32Array, n: number): Uint32Array {
  let a = new Uint32Array(n);
  let b = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  const count = new Uint32Array(65536);
  for (let pass = 0; pass < 4; pass++) {
    const src = pass < 2 ? lo : hi;
    const shift = (pass & 1) * 16;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[a[i]] >>> shift) & 0xffff]++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const v = a[i];
      b[count[(src[v] >>> shift) & 0xffff]++] = v;
    }
    const t = a;
    a = b;
    b = t;
  }
  return a;
}

export const ringHash: LoadBalancerFactory = {
  build(hosts: Host[], ctx: LbBuildContext): LoadBalancer {
    const c = ctx.config;
    return new ThreadAwareLb(hosts, ctx, (w) => new Ring(w, c.minRingSize, c.maxRingSize, c.useHostnameForHashing));
  },
};
