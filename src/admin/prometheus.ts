// GET /stats/prometheus: the stats in the Prometheus text exposition format, named and
// labelled as Envoy does it: an `envoy_` prefix, every character outside [a-zA-Z0-9_]
// turned into `_`, and the well-known tags taken out of the dotted name into labels.
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--stats-prometheus
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
//
// Tag extraction (Envoy's default tag specifiers, the common ones):
//   cluster.<name>.x                      → envoy_cluster_x{envoy_cluster_name="<name>"}
//   http.<prefix>.x                       → envoy_http_x{envoy_http_conn_manager_prefix="<prefix>"}
//   listener.<addr>.x                     → envoy_listener_x{envoy_listener_address="<addr>"}
//   listener.<addr>.http.<prefix>.x       → both of the above
//   ..._rq_2xx                            → ..._rq_xx{envoy_response_code_class="2"}
//   ..._rq_200                            → ..._rq{envoy_response_code="200"}
// A cluster name may contain dots; when the caller knows the cluster names, the longest
// known name that fits wins, else the name is the first dot-separated segment.
import type { StatSample } from './stats_text';

export interface Extracted {
  /** The metric name without the tag values, still dotted ('cluster.upstream_cx_total'). */
  name: string;
  labels: Array<[string, string]>;
}

// Listener stat prefixes are the bound address with ':' → '_': '0.0.0.0_10000', '[__]_80'.
const LISTENER_ADDR = /^listener\.(\d{1,3}(?:\.\d{1,3}){3}_\d+|\[[0-9a-fA-F_.]*\]_\d+)\./;
const HTTP_PREFIX = /^((?:listener\.)?http\.)([^.]+)\./;
const CODE_CLASS = /_rq_([1-5])xx$/;
const CODE = /_rq_(\d{3})$/;

export function extractTags(statName: string, clusterNames: readonly string[] = []): Extracted {
  let name = statName;
  const labels: Array<[string, string]> = [];
  if (name.startsWith('cluster.')) {
    const rest = name.slice('cluster.'.length);
    let cluster = '';
    for (const c of clusterNames) if (c.length > cluster.length && rest.startsWith(c + '.')) cluster = c;
    if (!cluster) {
      const dot = rest.indexOf('.');
      if (dot > 0) cluster = rest.slice(0, dot);
    }
    if (cluster) {
      labels.push(['envoy_cluster_name', cluster]);
      name = 'cluster.' + rest.slice(cluster.length + 1);
    }
  }
  let m = LISTENER_ADDR.exec(name);
  if (m) {
    labels.push(['envoy_listener_address', m[1]]);
    name = 'listener.' + name.slice(m[0].length);
  }
  m = HTTP_PREFIX.exec(name);
  if (m) {
    labels.push(['envoy_http_conn_manager_prefix', m[2]]);
    name = m[1] + name.slice(m[0].length);
  }
  m = CODE_CLASS.exec(name);
  if (m) {
    labels.push(['envoy_response_code_class', m[1]]);
    name = name.slice(0, m.index) + '_rq_xx';
  } else if ((m = CODE.exec(name))) {
    labels.push(['envoy_response_code', m[1]]);
    name = name.slice(0, m.index) + '_rq';
  }
  return { name, labels };
}

export function metricName(extracted: string): string {
  return 'envoy_' + extracted.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Label values escape backslash, double quote and newline (exposition format). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The exposition text: one `# TYPE` line per metric family, followed by its samples;
 * families sorted by name, samples by label set. A family name met with both kinds keeps
 * the first kind seen and the other samples are dropped (Prometheus rejects the mix).
 */
export function prometheusText(samples: StatSample[], clusterNames: readonly string[] = []): string {
  const families = new Map<string, { kind: StatSample['kind']; lines: string[] }>();
  for (const s of samples) {
    const ex = extractTags(s.name, clusterNames);
    const fam = metricName(ex.name);
    let f = families.get(fam);
    if (!f) families.set(fam, (f = { kind: s.kind, lines: [] }));
    else if (f.kind !== s.kind) continue;
    const labels = ex.labels.length
      ? '{' + ex.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',') + '}'
      : '';
    f.lines.push(`${fam}${labels} ${formatValue(s.value)}`);
  }
  let out = '';
  for (const fam of [...families.keys()].sort()) {
    const f = families.get(fam)!;
    out += `# TYPE ${fam} ${f.kind}\n`;
    for (const line of f.lines.sort()) out += line + '\n';
  }
  return out;
}
