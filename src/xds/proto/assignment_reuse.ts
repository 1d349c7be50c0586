// A faster path for large ClusterLoadAssignments (EDS), whose updates usually change a few
// endpoints of many: the assignment is split at the wire level, and an LbEndpoint whose
// bytes equal one in the previous version of the same assignment reuses that endpoint's
// canonical form instead of being decoded and converted again. The rest (the assignment
// and locality fields around the endpoints) is decoded as usual.
//
// The result must be exactly what canonicalize() gives for the whole message: the same
// object shapes and key order. Anything unusual — bytes that do not parse, a problem
// reported while converting, PGV rules on the split fields — returns undefined and the
// caller decodes the whole message the ordinary way, so errors and their paths are the
// ordinary ones too.
import * as protobuf from 'protobufjs';
import { ConfigIssues } from '../../config/issues';
import type { Canon } from './canonical';
import { mustLookupType } from './root';

/** Assignments with fewer endpoints than this are not worth the bookkeeping. */
export const MIN_REUSE_ENDPOINTS = 64;
/** How many assignments keep their endpoints for the next version (oldest dropped first). */
const MAX_ASSIGNMENTS = 256;

type Convert = (t: protobuf.Type, m: { [k: string]: any }, issues: ConfigIssues, path: string) => Canon;

interface Types {
  cla: protobuf.Type;
  locality: protobuf.Type;
  lbEndpoint: protobuf.Type;
  endpointsId: number;
  lbEndpointsId: number;
}

let types: Types | null | undefined;

function typesOf(): Types | null {
  if (types !== undefined) return types;
  const cla = mustLookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
  const locality = mustLookupType('envoy.config.endpoint.v3.LocalityLbEndpoints');
  const lbEndpoint = mustLookupType('envoy.config.endpoint.v3.LbEndpoint');
  const endpoints = cla.fields['endpoints'];
  const lbEndpoints = locality.fields['lb_endpoints'];
  // Splitting skips the PGV check of the split fields themselves: only when they have none.
  const hasRules = (f: protobuf.Field) => !!(f as unknown as { parsedOptions?: unknown[] }).parsedOptions?.length;
  types = endpoints && lbEndpoints && endpoints.repeated && lbEndpoints.repeated && !hasRules(endpoints) && !hasRules(lbEndpoints)
    ? { cla, locality, lbEndpoint, endpointsId: endpoints.id, lbEndpointsId: lbEndpoints.id }
    : null;
  return types;
}

/** cluster_name → LbEndpoint bytes (latin1) → canonical LbEndpoint, for the last version seen. */
const previous = new Map<string, Map<string, Canon>>();

interface Split {
  /** The message's bytes without the split field. */
  rest: Buffer;
  /** The split field's values, in order. */
  parts: Buffer[];
}

/** Separates the length-delimited occurrences of field `id` from the rest; null on malformed bytes. */
function split(buf: Buffer, id: number): Split | null {
  const r = protobuf.Reader.create(buf);
  const rest: Buffer[] = [];
  const parts: Buffer[] = [];
  try {
    while (r.pos < r.len) {
      const start = r.pos;
      const tag = r.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === id) {
        if (wire !== 2) return null;
        const len = r.uint32();
        if (r.pos + len > r.len) return null;
        parts.push(buf.subarray(r.pos, r.pos + len));
        r.pos += len;
        continue;
      }
      r.skipType(wire);
      if (r.pos > r.len) return null;
      rest.push(buf.subarray(start, r.pos));
    }
  } catch {
    return null;
  }
  return { rest: rest.length === 1 ? rest[0] : Buffer.concat(rest), parts };
}

/** `base`'s keys in the type's field order, with `field` set to `value` (when non-empty). */
function withField(t: protobuf.Type, base: Canon, field: string, value: Canon[]): Canon {
  const out: Canon = {};
  for (const f of t.fieldsArray) {
    if (f.name === field) {
      if (value.length) out[field] = value;
    } else if (base[f.name] !== undefined) out[f.name] = base[f.name];
  }
  return out;
}

/**
 * The canonical form of ClusterLoadAssignment `bytes`, reusing unchanged endpoints of the
 * previous version; undefined when the ordinary path must decode it. `decode` and
 * `convert` are the binary decoder's own (strict decode, conversion without a path).
 */
export function canonicalizeAssignment(bytes: Uint8Array, decode: (t: protobuf.Type, b: Uint8Array) => { [k: string]: any }, convert: Convert): Canon | undefined {
  const ty = typesOf();
  if (ty === null) return undefined;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const top = split(buf, ty.endpointsId);
  if (top === null) return undefined;
  const localities: Split[] = [];
  let count = 0;
  for (const p of top.parts) {
    const s = split(p, ty.lbEndpointsId);
    if (s === null) return undefined;
    count += s.parts.length;
    localities.push(s);
  }
  if (count < MIN_REUSE_ENDPOINTS) return undefined;
  const issues = new ConfigIssues();
  try {
    const head = convert(ty.cla, decode(ty.cla, top.rest), issues, '');
    const name = head['cluster_name'];
    if (!issues.ok || typeof name !== 'string') return undefined;
    const before = previous.get(name);
    const now = new Map<string, Canon>();
    const converted: Canon[] = [];
    for (const loc of localities) {
      const locHead = convert(ty.locality, decode(ty.locality, loc.rest), issues, '');
      const eps: Canon[] = [];
      for (const p of loc.parts) {
        const key = p.toString('latin1');
        let c = before?.get(key) ?? now.get(key);
        if (c === undefined) c = convert(ty.lbEndpoint, decode(ty.lbEndpoint, p), issues, '');
        now.set(key, c);
        eps.push(c);
      }
      if (!issues.ok) return undefined;
      converted.push(withField(ty.locality, locHead, 'lb_endpoints', eps));
    }
    previous.delete(name);
    previous.set(name, now);
    if (previous.size > MAX_ASSIGNMENTS) previous.delete(previous.keys().next().value!);
    return withField(ty.cla, head, 'endpoints', converted);
  } catch {
    return undefined;
  }
}
