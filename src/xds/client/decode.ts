// Decodes the resources of one response into canonical objects, one outcome per resource,
// so that a bad resource is rejected on its own and the good ones of the same response
// still apply (gRFC A46, design.md convention 2). A resource is an error, with its field
// path, when its Any has another type than the response, it does not decode or breaks a
// PGV rule (proto/binary.ts), it has no name, or its name appears twice in the response.
import { ConfigIssues } from '../../config/issues';
import { fromBinaryAny } from '../proto/binary';
import { Canon, TYPE_PREFIX } from '../proto/canonical';
import { mustLookupType } from '../proto/root';

export interface RawAny {
  type_url?: string;
  value?: Uint8Array;
}

/** A delta response's envoy.service.discovery.v3.Resource, as protobufjs decodes it. */
export interface RawResource {
  name?: string;
  version?: string;
  resource?: RawAny | null;
}

export interface DecodedResource {
  readonly name: string;
  readonly resource: Canon;
  readonly version: string;
  readonly raw: { type_url: string; value: Uint8Array };
}

export interface ResourceError {
  /** The resource's name, when it could be told; otherwise unattributed. */
  readonly name?: string;
  /** Where it sits in the response: `resources[3]`. */
  readonly index: string;
  /** Field path inside the resource ('' for the resource as a whole). */
  readonly path: string;
  readonly message: string;
  readonly raw?: { type_url: string; value: Uint8Array };
}

export interface DecodedBatch {
  readonly good: Map<string, DecodedResource>;
  readonly errors: ResourceError[];
}

const RESOURCE_WRAPPER = TYPE_PREFIX + 'envoy.service.discovery.v3.Resource';

/** The field that names a resource: ClusterLoadAssignment is named by its cluster. */
export function nameField(typeUrl: string): string {
  return typeUrl.endsWith('.ClusterLoadAssignment') ? 'cluster_name' : 'name';
}

export function resourceName(typeUrl: string, canon: Canon | undefined): string | undefined {
  const n = canon?.[nameField(typeUrl)];
  return typeof n === 'string' && n !== '' ? n : undefined;
}

function bytesOf(a: RawAny): Uint8Array {
  return a.value ?? new Uint8Array(0);
}

/**
 * One resource: `declared` is the name a delta Resource wrapper (or a SotW Resource wrapper)
 * gives; errors and the good result go to `out`.
 */
function decodeOne(typeUrl: string, any: RawAny, version: string, index: string, declared: string | undefined, out: Outcome[]): void {
  const url = any.type_url ?? '';
  const raw = { type_url: url, value: bytesOf(any) };
  if (url !== typeUrl) {
    out.push({ err: { name: declared, index, path: 'type_url', message: `expected "${typeUrl}", got "${url}"`, raw } });
    return;
  }
  const issues = new ConfigIssues();
  const canon = fromBinaryAny(typeUrl, raw.value, issues, '');
  const inner = resourceName(typeUrl, canon);
  const name = declared || inner;
  if (declared && inner && inner !== declared) {
    issues.add(nameField(typeUrl), `"${inner}" differs from the resource name "${declared}"`);
  }
  if (canon && !name) issues.add(nameField(typeUrl), 'the resource has no name');
  if (!issues.ok || !canon || !name) {
    for (const i of issues.list) out.push({ err: { name, index, path: i.path, message: i.message, raw } });
    return;
  }
  out.push({ ok: { name, resource: canon, version, raw } });
}

type Outcome = { ok: DecodedResource; err?: undefined } | { err: ResourceError; ok?: undefined };

/** Duplicate names are errors for every copy: which one the server meant is unknowable. */
function collect(outcomes: Outcome[]): DecodedBatch {
  const good = new Map<string, DecodedResource>();
  const errors: ResourceError[] = [];
  const count = new Map<string, number>();
  for (const o of outcomes) {
    const n = o.ok?.name ?? o.err?.name;
    if (n !== undefined && (o.ok || o.err?.path !== 'type_url')) count.set(n, (count.get(n) ?? 0) + 1);
  }
  const dupSeen = new Set<string>();
  for (const o of outcomes) {
    if (o.err) {
      errors.push(o.err);
      continue;
    }
    const r = o.ok;
    if ((count.get(r.name) ?? 0) > 1) {
      if (!dupSeen.has(r.name)) errors.push({ name: r.name, index: '', path: '', message: 'the name appears more than once in the response', raw: r.raw });
      dupSeen.add(r.name);
      continue;
    }
    good.set(r.name, r);
  }
  return { good, errors };
}

/**
 * A SotW response's `resources` (each an Any of `typeUrl`, or a Resource wrapper around
 * one: client feature xds.config.resource-in-sotw). Every resource gets `versionInfo`.
 */
export function decodeSotw(typeUrl: string, anys: readonly RawAny[], versionInfo: string): DecodedBatch {
  const out: Outcome[] = [];
  anys.forEach((a, i) => {
    const index = `resources[${i}]`;
    if (a.type_url === RESOURCE_WRAPPER && typeUrl !== RESOURCE_WRAPPER) {
      let w: RawResource;
      try {
        const t = mustLookupType('envoy.service.discovery.v3.Resource');
        w = t.toObject(t.decode(bytesOf(a)), { longs: Number }) as RawResource;
      } catch (e) {
        out.push({ err: { index, path: '', message: `cannot decode Resource: ${(e as Error).message}`, raw: { type_url: RESOURCE_WRAPPER, value: bytesOf(a) } } });
        return;
      }
      decodeOne(typeUrl, w.resource ?? {}, versionInfo, index, w.name || undefined, out);
      return;
    }
    decodeOne(typeUrl, a, versionInfo, index, undefined, out);
  });
  return collect(out);
}

/** A delta response's `resources` (Resource wrappers, each with its own name and version). */
export function decodeDelta(typeUrl: string, resources: readonly RawResource[]): DecodedBatch {
  const out: Outcome[] = [];
  resources.forEach((r, i) => {
    const index = `resources[${i}]`;
    if (!r.resource) {
      // A Resource without a body is a TTL heartbeat; this client does not announce TTL support.
      out.push({ err: { name: r.name || undefined, index, path: 'resource', message: 'no resource body (TTL heartbeats are not supported)' } });
      return;
    }
    decodeOne(typeUrl, r.resource, r.version ?? '', index, r.name || undefined, out);
  });
  return collect(out);
}

/** One line per problem: `name: path: reason` (or `resources[i]: ...` when unnamed). */
export function errorLine(e: { name?: string; index?: string; path?: string; message: string }): string {
  const who = e.name ?? e.index ?? '?';
  return `${who}: ${e.path ? e.path + ': ' : ''}${e.message}`;
}
