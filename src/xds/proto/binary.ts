// Binary protobuf (as xDS delivers resources) ⇄ canonical form. Decoded protobufjs
// messages are walked with the same descriptors as the JSON decoder and checked with
// the same PGV rules, so a resource yields the same canonical object and the same
// errors whichever way it arrived.
import * as protobuf from 'protobufjs';
import { ConfigError, ConfigIssues } from '../../config/issues';
import { Canon, typeName } from './canonical';
import { WktKind, enumOf, hasPresence, isZero, wktKind } from './descriptors';
import { LazyPath, PathLike, pathString } from './path';
import { canonicalizeAssignment, MIN_REUSE_ENDPOINTS } from './assignment_reuse';

const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
/** Below this an assignment cannot hold MIN_REUSE_ENDPOINTS endpoints (each is >= 2 bytes: tag, length). */
const REUSE_MIN_BYTES = MIN_REUSE_ENDPOINTS * 2;
import { lookupType, mustLookupType } from './root';
import { checkRules } from './rules';
import { durationObj, jsonToList, jsonToStruct, jsonToValue, listToJson, structToJson, valueToJson } from './wkt';

type Msg = { [k: string]: any };

/**
 * Decodes a resource (the `value` of an Any with `typeUrl`) into canonical form, without
 * the '@type' key. Problems go to `issues` under `path`; without `issues` they throw a
 * ConfigError.
 */
export function fromBinaryAny(typeUrl: string, bytes: Uint8Array, issues?: ConfigIssues, path = ''): Canon | undefined {
  const own = issues ?? new ConfigIssues();
  let out: Canon | undefined;
  const t = lookupType(typeName(typeUrl));
  if (!t) own.add(path, `unknown resource type "${typeUrl}"`);
  else {
    // A large EDS assignment reuses the endpoints unchanged since its previous version.
    if (bytes.length >= REUSE_MIN_BYTES && t === lookupType(CLA)) out = canonicalizeAssignment(bytes, decodeExact, canonicalize);
    if (out === undefined) {
      const m = decodeBytes(t, bytes, path, own);
      if (m) out = canonicalize(t, m, own, path);
    }
  }
  if (!issues && !own.ok) throw new ConfigError(own.list, typeUrl);
  return out;
}

/** Converts a protobufjs-decoded message of `type` to canonical form (only present fields). */
export function canonicalize(type: string | protobuf.Type, message: Msg, issues = new ConfigIssues(), path = ''): Canon {
  const t = typeof type === 'string' ? mustLookupType(type) : type;
  return convertMessage(t, message, path, issues) as Canon;
}

function decodeBytes(t: protobuf.Type, bytes: Uint8Array, path: string, issues: ConfigIssues): Msg | undefined {
  try {
    return decodeExact(t, bytes);
  } catch (e) {
    issues.add(path, `cannot decode ${t.name}: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * protobufjs's Buffer reader clamps a string whose length prefix runs past the end of the
 * buffer (it reads what is there), so a truncated message would decode into a different,
 * shorter one. This reader refuses, as the plain Reader does for bytes and messages.
 */
class StrictBufferReader extends protobuf.BufferReader {
  override string(): string {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.len) throw new RangeError(`index out of range: ${this.pos} + ${len} > ${this.len}`);
    const s = (this.buf as Buffer).toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }
}

/** Decodes `bytes` as `t`; throws on bytes that are not a whole message (truncated, bad wire types). */
export function decodeExact(t: protobuf.Type, bytes: Uint8Array): Msg {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new StrictBufferReader(buf);
  const m = t.decode(r) as unknown as Msg;
  if (r.pos !== r.len) throw new RangeError(`index out of range: read ${r.pos} of ${r.len} bytes`);
  return m;
}

function num(v: any): number {
  if (typeof v === 'number') return v;
  if (v && typeof v.toNumber === 'function') return v.toNumber(); // Long
  return Number(v ?? 0);
}

/** What convertMessage needs of one field, resolved once per type. */
interface FieldPlan {
  readonly f: protobuf.Field;
  readonly name: string;
  readonly map: boolean;
  readonly repeated: boolean;
  /** Dropped when equal to its default (proto3 implicit presence). */
  readonly dropZero: boolean;
}

const plans = new WeakMap<protobuf.Type, readonly FieldPlan[]>();

function planOf(t: protobuf.Type): readonly FieldPlan[] {
  let p = plans.get(t);
  if (p === undefined) {
    p = t.fieldsArray.map((f) => {
      f.resolve();
      return { f, name: f.name, map: !!f.map, repeated: !!f.repeated && !f.map, dropZero: !f.map && !f.repeated && !hasPresence(f) };
    });
    plans.set(t, p);
  }
  return p;
}

const hasOwn = Object.prototype.hasOwnProperty;

// Paths are LazyPath links (path.ts): rendered only if a problem is reported.
function convertMessage(t: protobuf.Type, m: Msg, path: PathLike, issues: ConfigIssues): unknown {
  const kind = wktKind(t);
  if (kind !== undefined) return convertWkt(kind, t, m, path, issues);
  const out: Canon = {};
  const plan = planOf(t);
  for (let i = 0; i < plan.length; i++) {
    const fp = plan[i];
    if (!hasOwn.call(m, fp.name)) continue;
    const v = m[fp.name];
    if (v === null || v === undefined) continue;
    const f = fp.f;
    if (fp.map) {
      const keys = Object.keys(v);
      if (!keys.length) continue;
      const o: Canon = {};
      const p = LazyPath.field(path, fp.name);
      for (const k of keys) o[k] = convertSingle(f, v[k], LazyPath.mapKey(p, k), issues);
      out[fp.name] = o;
    } else if (fp.repeated) {
      const n = v.length;
      if (!n) continue;
      const arr = new Array(n);
      if (f.resolvedType instanceof protobuf.Type) {
        const p = LazyPath.field(path, fp.name);
        for (let j = 0; j < n; j++) arr[j] = convertMessage(f.resolvedType, v[j] ?? {}, LazyPath.index(p, j), issues);
      } else {
        for (let j = 0; j < n; j++) arr[j] = convertScalar(f, v[j]);
      }
      out[fp.name] = arr;
    } else if (f.resolvedType instanceof protobuf.Type) {
      out[fp.name] = convertMessage(f.resolvedType, v, LazyPath.field(path, fp.name), issues);
    } else {
      const c = convertScalar(f, v);
      if (fp.dropZero && isZero(f, c)) continue;
      out[fp.name] = c;
    }
  }
  checkRules(t, out, path, issues);
  return out;
}

function convertWkt(kind: WktKind, t: protobuf.Type, m: Msg, path: PathLike, issues: ConfigIssues): unknown {
  switch (kind) {
    case 'duration':
    case 'timestamp':
      return durationObj(num(m.seconds), num(m.nanos));
    case 'wrapper':
      return convertSingle(t.fields['value'], m.value, path, issues); // absent value = its default
    case 'struct':
      return structToJson(m);
    case 'value':
      return valueToJson(m);
    case 'list':
      return listToJson(m);
    case 'fieldmask':
      return { paths: [...(m.paths ?? [])] };
    case 'empty':
      return {};
    case 'any':
      return unpackAny(m.type_url ?? '', m.value ?? new Uint8Array(0), path, issues);
  }
}

function convertSingle(f: protobuf.Field, v: any, p: PathLike, issues: ConfigIssues): unknown {
  if (f.resolvedType instanceof protobuf.Type) return convertMessage(f.resolvedType, v ?? {}, p, issues);
  return convertScalar(f, v);
}

function convertScalar(f: protobuf.Field, v: any): unknown {
  const e = enumOf(f);
  if (e) return e.valuesById[v] ?? v;
  switch (f.type) {
    case 'bytes':
      return v ? Buffer.from(v.buffer ?? v, v.byteOffset ?? 0, v.length ?? 0) : Buffer.alloc(0);
    case 'string':
    case 'bool':
    case 'double':
    case 'float':
      return v;
    default:
      return num(v);
  }
}

function unpackAny(url: string, bytes: Uint8Array, path: PathLike, issues: ConfigIssues): Canon | undefined {
  const t = lookupType(typeName(url));
  if (!t) return { '@type': url, '@unknown': true };
  const m = decodeBytes(t, bytes, pathString(path), issues);
  if (!m) return undefined;
  if (wktKind(t)) return { '@type': url, value: convertMessage(t, m, LazyPath.field(path, 'value'), issues) };
  return { '@type': url, ...(convertMessage(t, m, path, issues) as Canon) };
}

// ---- canonical → binary (the reference xDS server and round-trip tests use this) ----

/** Encodes canonical `canon` as message `type`. Throws on an Any of an unknown type. */
export function toBinary(type: string | protobuf.Type, canon: unknown): Uint8Array {
  const t = typeof type === 'string' ? mustLookupType(type) : type;
  return t.encode(t.fromObject(toPbObject(t, canon) as Msg)).finish();
}

/** Wraps canonical `canon` of `type` into an Any message object {type_url, value}. */
export function toAny(type: string, canon: unknown, prefix = 'type.googleapis.com/'): { type_url: string; value: Uint8Array } {
  return { type_url: prefix + type, value: toBinary(type, canon) };
}

function toPbObject(t: protobuf.Type, v: any): unknown {
  switch (wktKind(t)) {
    case 'duration':
    case 'timestamp':
      return { seconds: v?.seconds ?? 0, nanos: v?.nanos ?? 0 };
    case 'wrapper':
      return { value: singleToPb(t.fields['value'], v) };
    case 'struct':
      return jsonToStruct(v ?? {});
    case 'value':
      return jsonToValue(v);
    case 'list':
      return jsonToList(v ?? []);
    case 'fieldmask':
      return { paths: v?.paths ?? [] };
    case 'empty':
      return {};
    case 'any': {
      const url: string = v['@type'];
      if (v['@unknown']) throw new Error(`cannot encode Any of unknown type ${url}`);
      const inner = mustLookupType(typeName(url));
      const { ['@type']: _t, ...rest } = v;
      return { type_url: url, value: toBinary(inner, wktKind(inner) ? v.value : rest) };
    }
    default:
      break;
  }
  const out: Msg = {};
  for (const f of t.fieldsArray) {
    const fv = v?.[f.name];
    if (fv === undefined) continue;
    if (f.map) {
      const m: Msg = {};
      for (const k of Object.keys(fv)) m[k] = singleToPb(f, fv[k]);
      out[f.name] = m;
    } else if (f.repeated) out[f.name] = (fv as unknown[]).map((e) => singleToPb(f, e));
    else out[f.name] = singleToPb(f, fv);
  }
  return out;
}

function singleToPb(f: protobuf.Field, v: any): unknown {
  f.resolve();
  if (f.resolvedType instanceof protobuf.Type) return toPbObject(f.resolvedType, v);
  return v; // enum names, numbers, strings, booleans and Buffers are what fromObject takes
}
