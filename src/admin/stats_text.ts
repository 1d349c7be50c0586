// GET /stats: counters and gauges as `name: value` lines sorted by name, or as
// {"stats":[{"name","value"}]} with ?format=json.
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--stats
import type { StatsStore } from '../telemetry/stats';

export type StatKind = 'counter' | 'gauge';
export interface StatSample {
  name: string;
  value: number;
  kind: StatKind;
}

export interface StatsQuery {
  /** ?filter=: keep stats whose name the regular expression matches (anywhere in it). */
  filter?: RegExp;
  /**
   * ?usedonly: keep stats that have been written. The store keeps no "used" bit, so a
   * stat counts as used once its value is non-zero (a gauge set back to 0 drops out).
   */
  usedOnly: boolean;
  /** ?type=Counters|Gauges: keep one kind (Envoy also accepts Histograms; there are none). */
  type?: StatKind | 'histogram';
}

export class StatsQueryError extends Error {
  readonly code = 'ADMIN_BAD_STATS_QUERY';
}

/** Parses /stats query parameters; throws StatsQueryError for a bad regex or type. */
export function parseStatsQuery(q: URLSearchParams): StatsQuery {
  const out: StatsQuery = { usedOnly: q.has('usedonly') };
  const f = q.get('filter');
  if (f !== null && f !== '') {
    try {
      out.filter = new RegExp(f);
    } catch {
      throw new StatsQueryError(`Invalid regex: "${f}"`);
    }
  }
  const t = q.get('type');
  if (t !== null && t !== 'All') {
    if (t === 'Counters') out.type = 'counter';
    else if (t === 'Gauges') out.type = 'gauge';
    else if (t === 'Histograms') out.type = 'histogram'; // matches nothing: there are no histograms
    else throw new StatsQueryError(`Invalid type: "${t}" (expected All, Counters, Gauges or Histograms)`);
  }
  return out;
}

/** The store's stats (already sorted by name) that pass the query. */
export function selectStats(store: StatsStore, q: StatsQuery): StatSample[] {
  return store.snapshot().filter((s) => {
    if (q.type && s.kind !== q.type) return false;
    if (q.usedOnly && s.value === 0) return false;
    if (q.filter && !q.filter.test(s.name)) return false;
    return true;
  });
}

export function statsText(samples: StatSample[]): string {
  let out = '';
  for (const s of samples) out += `${s.name}: ${s.value}\n`;
  return out;
}

export function statsJson(samples: StatSample[]): { stats: Array<{ name: string; value: number }> } {
  return { stats: samples.map((s) => ({ name: s.name, value: s.value })) };
}
