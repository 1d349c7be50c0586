// The mesh file: Envoy v3 resources grouped per node, decoded and encoded once per load.
//
//   groups:
//   - match: { node_id: sidecar-a }          # and/or node_cluster; all given keys must match
//     listeners: [...]                       # envoy.config.listener.v3.Listener
//     route_configurations: [...]            # envoy.config.route.v3.RouteConfiguration
//     clusters: [...]                        # envoy.config.cluster.v3.Cluster
//     cluster_load_assignments: [...]        # envoy.config.endpoint.v3.ClusterLoadAssignment
//     secrets: [...]                         # envoy.extensions.transport_sockets.tls.v3.Secret
//   default: { listeners: [...], ... }       # for nodes no group matches
//
// Every resource goes through the one proto3-JSON decoder (proto/json.ts), so a bad file is
// rejected with every problem and its field path; nothing is served from a file with errors.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as yaml from 'js-yaml';
import { ConfigError, ConfigIssues, join } from '../../config/issues';
import { toAny } from '../proto/binary';
import { fromJson } from '../proto/json';
import { parseJsonDocument } from './json_text';
import { KINDS, MeshKey } from './kinds';

/** One resource as served: its Any, encoded once, and a content hash as its version. */
export interface MeshResource {
  readonly name: string;
  readonly any: { type_url: string; value: Uint8Array };
  /** Hash of the encoded bytes: the per-resource version of incremental xDS. */
  readonly version: string;
}

export interface NodeMatch {
  node_id?: string;
  node_cluster?: string;
}

export interface MeshGroup {
  /** `groups[2]` or `default`, for logs and /status. */
  readonly label: string;
  readonly match?: NodeMatch;
  /** type URL → name → resource. */
  readonly resources: ReadonlyMap<string, ReadonlyMap<string, MeshResource>>;
}

export interface Mesh {
  readonly file: string;
  readonly groups: readonly MeshGroup[];
  readonly fallback: MeshGroup;
  /** Hash of every group's resources: equal digests serve identical content. */
  readonly digest: string;
}

const GROUP_KEYS = new Set<string>(['match', ...KINDS.map((k) => k.key)]);
const MATCH_KEYS = new Set(['node_id', 'node_cluster']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hash(data: Uint8Array | string): string {
  return crypto.createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/** Parses mesh text; throws a ConfigError naming `file` and listing every problem. */
export function parseMesh(text: string, file: string): Mesh {
  const issues = new ConfigIssues();
  let doc: unknown;
  try {
    doc = parseJsonDocument(text) ?? yaml.load(text, { filename: file });
  } catch (e) {
    issues.add('', `not valid YAML: ${(e as Error).message}`);
    throw new ConfigError(issues.list, file);
  }
  // An empty file is far more often a write caught half-way (or a truncation) than a wish
  // to withdraw every resource from every node: refuse it and keep serving. To serve
  // nothing, write `groups: []`.
  if (doc === undefined || doc === null) {
    issues.add('', 'the mesh file is empty (write `groups: []` to serve nothing)');
    throw new ConfigError(issues.list, file);
  }
  if (!isObject(doc)) {
    issues.add('', 'expected a mapping with "groups" and/or "default"');
    throw new ConfigError(issues.list, file);
  }
  for (const k of Object.keys(doc)) if (k !== 'groups' && k !== 'default') issues.add('', `unknown field "${k}"`);
  const groups: MeshGroup[] = [];
  if (doc.groups !== undefined && doc.groups !== null) {
    if (!Array.isArray(doc.groups)) issues.add('groups', 'expected a list of groups');
    else doc.groups.forEach((g, i) => groups.push(parseGroup(g, join('groups', i), true, issues)));
  }
  const fallback = doc.default === undefined || doc.default === null
    ? emptyGroup('default')
    : parseGroup(doc.default, 'default', false, issues);
  if (!issues.ok) throw new ConfigError(issues.list, file);
  const digest = hash([...groups, fallback].map(groupDigest).join('|'));
  return { file, groups, fallback, digest };
}

/** Reads and parses `file`; throws a ConfigError (also for an unreadable file). */
export function loadMesh(file: string): { mesh: Mesh; text: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read: ${(e as Error).message}` }], file);
  }
  return { mesh: parseMesh(text, file), text };
}

function emptyGroup(label: string): MeshGroup {
  return { label, resources: new Map(KINDS.map((k) => [k.typeUrl, new Map()])) };
}

function parseGroup(g: unknown, path: string, needsMatch: boolean, issues: ConfigIssues): MeshGroup {
  if (!isObject(g)) {
    issues.add(path, 'expected a mapping of resource lists');
    return emptyGroup(path);
  }
  for (const k of Object.keys(g)) {
    if (!GROUP_KEYS.has(k) || (k === 'match' && !needsMatch)) issues.add(path, `unknown field "${k}"`);
  }
  const match = needsMatch ? parseMatch(g.match, join(path, 'match'), issues) : undefined;
  const resources = new Map<string, Map<string, MeshResource>>();
  for (const k of KINDS) resources.set(k.typeUrl, parseList(g[k.key], k.key, join(path, k.key), issues));
  return { label: path, match, resources };
}

function parseMatch(m: unknown, path: string, issues: ConfigIssues): NodeMatch | undefined {
  if (!isObject(m)) {
    issues.add(path, 'expected a mapping with node_id and/or node_cluster');
    return undefined;
  }
  const out: NodeMatch = {};
  const before = issues.list.length;
  for (const [k, v] of Object.entries(m)) {
    if (!MATCH_KEYS.has(k)) issues.add(path, `unknown field "${k}"`);
    else if (typeof v !== 'string' || v === '') issues.add(join(path, k), 'expected a non-empty string');
    else out[k as keyof NodeMatch] = v;
  }
  if (!out.node_id && !out.node_cluster && issues.list.length === before) issues.add(path, 'needs node_id or node_cluster');
  return out;
}

function parseList(list: unknown, key: MeshKey, path: string, issues: ConfigIssues): Map<string, MeshResource> {
  const out = new Map<string, MeshResource>();
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) {
    issues.add(path, 'expected a list');
    return out;
  }
  const k = KINDS.find((x) => x.key === key)!;
  list.forEach((item, i) => {
    const p = join(path, i);
    const before = issues.list.length;
    const canon = fromJson(item, k.typeName, issues, p);
    if (!canon || issues.list.length > before) return;
    const name = canon[k.nameField];
    if (typeof name !== 'string' || name === '') {
      issues.add(join(p, k.nameField), `required: the resource name`);
      return;
    }
    if (out.has(name)) {
      issues.add(join(p, k.nameField), `duplicate ${k.key} name "${name}" in this group`);
      return;
    }
    let any: { type_url: string; value: Uint8Array };
    try {
      any = toAny(k.typeName, canon);
    } catch (e) {
      issues.add(p, `cannot encode: ${(e as Error).message}`);
      return;
    }
    out.set(name, { name, any, version: hash(any.value) });
  });
  return out;
}

function groupDigest(g: MeshGroup): string {
  const parts: string[] = [g.label, JSON.stringify(g.match ?? null)];
  for (const [url, byName] of g.resources) {
    for (const r of [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) parts.push(`${url}/${r.name}@${r.version}`);
  }
  return parts.join(',');
}

/**
 * The group serving a node: the first whose match keys all equal the node's
 * (node.id, node.cluster), else `default`.
 */
export function groupFor(mesh: Mesh, node: { id?: string; cluster?: string }): MeshGroup {
  for (const g of mesh.groups) {
    const m = g.match;
    if (!m) continue;
    if (m.node_id !== undefined && m.node_id !== node.id) continue;
    if (m.node_cluster !== undefined && m.node_cluster !== node.cluster) continue;
    return g;
  }
  return mesh.fallback;
}
