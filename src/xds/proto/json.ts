// The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/), as Envoy
// reads YAML/JSON bootstraps, producing the canonical form (canonical.ts). Written once,
// driven by the protobufjs descriptors, so every message gets the same checks and the
// same error texts. Every problem is collected with its field path; decoding continues
// past errors so the user sees all of them.
import * as protobuf from 'protobufjs';
import { ConfigIssues } from '../../config/issues';
import { Canon, typeName } from './canonical';
import {
  INT_RANGES, WktKind, describe, enumOf, fieldsByKey, hasPresence, isZero, realOneof, wktKind,
} from './descriptors';
import { lookupType, mustLookupType } from './root';
import { LazyPath, PathLike } from './path';
import { checkRules } from './rules';
import { parseDuration, parseTimestamp } from './wkt';

export { toProtoJson } from './print';

/**
 * Decodes a parsed YAML/JSON `value` as message `type` into canonical form. Problems go
 * to `issues` under `path`; the result holds whatever decoded cleanly (undefined if the
 * value was not an object at all).
 */
export function fromJson(value: unknown, type: string | protobuf.Type, issues: ConfigIssues, path = ''): Canon | undefined {
  const t = typeof type === 'string' ? mustLookupType(type) : type;
  return decodeMessage(t, value, path, issues) as Canon | undefined;
}

const NO_KEYS: ReadonlySet<string> = new Set();
const AT_TYPE: ReadonlySet<string> = new Set(['@type']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}

function decodeMessage(t: protobuf.Type, v: unknown, path: PathLike, issues: ConfigIssues): unknown {
  const k = wktKind(t);
  if (k) return decodeWkt(k, t, v, path, issues);
  if (!isObject(v)) {
    issues.add(path, `expected object, got ${describe(v)}`);
    return undefined;
  }
  return decodeFields(t, v, path, issues, NO_KEYS);
}

/** The fields of a regular message; `skip` names keys handled by the caller (Any's '@type'). */
function decodeFields(t: protobuf.Type, v: Record<string, unknown>, path: PathLike, issues: ConfigIssues, skip: ReadonlySet<string>): Canon {
  const out: Canon = {};
  const byKey = fieldsByKey(t);
  // Made only when needed: most messages have no camelCase alias key, no oneof, no failure.
  let seenAs: Map<string, string> | undefined; // field name -> key it was written as
  let oneofSet: Map<protobuf.OneOf, string> | undefined;
  let failed: Set<string> | undefined;
  const keys = Object.keys(v);
  // A field can be written twice only under two keys (snake_case and lowerCamel).
  for (const key of keys) {
    const f = byKey.get(key);
    if (f !== undefined && f.name !== key) {
      seenAs = new Map();
      break;
    }
  }
  for (const key of keys) {
    if (skip.has(key)) continue;
    const f = byKey.get(key);
    if (!f) {
      issues.add(path, `unknown field "${key}"`);
      continue;
    }
    const p = LazyPath.field(path, f.name);
    if (seenAs !== undefined) {
      const prevKey = seenAs.get(f.name);
      if (prevKey !== undefined) {
        issues.add(p, `set twice (as "${prevKey}" and "${key}")`);
        continue;
      }
      seenAs.set(f.name, key);
    }
    const val = v[key];
    if (val === null || val === undefined) continue; // proto3 JSON: null means absent
    const o = realOneof(f);
    if (o) {
      const other = oneofSet?.get(o);
      if (other !== undefined) {
        issues.add(p, `"${f.name}" and "${other}" are both set, but only one field of oneof "${o.name}" may be set`);
        (failed ??= new Set()).add(f.name);
        continue;
      }
      (oneofSet ??= new Map()).set(o, f.name);
    }
    const before = issues.list.length;
    const r = decodeField(f, val, p, issues);
    if (r !== undefined) out[f.name] = r;
    else if (issues.list.length > before) (failed ??= new Set()).add(f.name);
  }
  checkRules(t, out, path, issues, failed);
  return out;
}

function decodeField(f: protobuf.Field, val: unknown, p: PathLike, issues: ConfigIssues): unknown {
  if (f.map) {
    if (!isObject(val)) {
      issues.add(p, `expected object (map), got ${describe(val)}`);
      return undefined;
    }
    const keyType = (f as unknown as protobuf.MapField).keyType;
    const m: Canon = {};
    for (const [k, ev] of Object.entries(val)) {
      const kp = LazyPath.mapKey(p, k);
      if (keyType !== 'string' && keyType !== 'bool' && decodeInt(keyType, k, kp, issues) === undefined) continue;
      if (ev === null) {
        issues.add(kp, 'map value must not be null');
        continue;
      }
      const r = decodeSingle(f, ev, kp, issues);
      if (r !== undefined) m[k] = r;
    }
    return Object.keys(m).length ? m : undefined;
  }
  if (f.repeated) {
    if (!Array.isArray(val)) {
      issues.add(p, `expected array, got ${describe(val)}`);
      return undefined;
    }
    const out: unknown[] = [];
    val.forEach((e, i) => {
      if (e === null) {
        issues.add(LazyPath.index(p, i), 'list element must not be null');
        return;
      }
      const r = decodeSingle(f, e, LazyPath.index(p, i), issues);
      if (r !== undefined) out.push(r);
    });
    return out.length ? out : undefined;
  }
  const r = decodeSingle(f, val, p, issues);
  // Implicit-presence scalars at their default are absent (what the wire format does too).
  if (r !== undefined && !hasPresence(f) && isZero(f, r)) return undefined;
  return r;
}

function decodeSingle(f: protobuf.Field, v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  if (f.resolvedType instanceof protobuf.Type) return decodeMessage(f.resolvedType, v, p, issues);
  const e = enumOf(f);
  if (e) return decodeEnum(e, v, p, issues);
  return decodeScalar(f.type, v, p, issues);
}

function decodeEnum(e: protobuf.Enum, v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  if (typeof v === 'string') {
    if (e.values[v] !== undefined) return v;
    const names = Object.keys(e.values);
    const list = names.length <= 12 ? `; expected one of ${names.join(', ')}` : '';
    issues.add(p, `unknown value ${JSON.stringify(v)} for enum ${e.name}${list}`);
    return undefined;
  }
  if (typeof v === 'number' && Number.isInteger(v)) return e.valuesById[v] ?? v; // undefined numbers: PGV defined_only decides
  issues.add(p, `expected enum name, got ${describe(v)}`);
  return undefined;
}

function decodeInt(type: string, v: unknown, p: PathLike, issues: ConfigIssues): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) n = Number(v); // proto3 JSON allows quoted ints
  else {
    issues.add(p, `expected integer, got ${describe(v)}`);
    return undefined;
  }
  if (!Number.isInteger(n)) {
    issues.add(p, `expected integer, got ${describe(v)}`);
    return undefined;
  }
  const [lo, hi] = INT_RANGES[type];
  if (n < lo || n > hi) {
    issues.add(p, `value ${describe(v)} out of range for ${type}`);
    return undefined;
  }
  return n;
}

function decodeScalar(type: string, v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  switch (type) {
    case 'string':
      if (typeof v === 'string') return v;
      break;
    case 'bool':
      if (typeof v === 'boolean') return v;
      break;
    case 'double':
    case 'float':
      if (typeof v === 'number') return v;
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
      issues.add(p, `expected number, got ${describe(v)}`);
      return undefined;
    case 'bytes':
      if (typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) return Buffer.from(v, 'base64');
      issues.add(p, `expected base64 string, got ${describe(v)}`);
      return undefined;
    default:
      if (INT_RANGES[type]) return decodeInt(type, v, p, issues);
      issues.add(p, `unsupported scalar type ${type}`);
      return undefined;
  }
  issues.add(p, `expected ${type === 'bool' ? 'boolean' : type}, got ${describe(v)}`);
  return undefined;
}

function decodeWkt(k: WktKind, t: protobuf.Type, v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  switch (k) {
    case 'duration':
    case 'timestamp': {
      if (k === 'timestamp' && v instanceof Date) v = v.toISOString(); // YAML unquoted timestamps
      if (typeof v !== 'string') {
        issues.add(p, `expected ${k} string${k === 'duration' ? ' like "1.5s"' : ' (RFC 3339)'}, got ${describe(v)}`);
        return undefined;
      }
      const r = k === 'duration' ? parseDuration(v) : parseTimestamp(v);
      if (typeof r === 'string') {
        issues.add(p, r);
        return undefined;
      }
      checkRules(t, r, p, issues);
      return r;
    }
    case 'wrapper':
      return decodeSingle(t.fields['value'], v, p, issues);
    case 'struct':
      if (!isObject(v)) {
        issues.add(p, `expected object, got ${describe(v)}`);
        return undefined;
      }
      return plainJson(v, p, issues);
    case 'list':
      if (!Array.isArray(v)) {
        issues.add(p, `expected array, got ${describe(v)}`);
        return undefined;
      }
      return plainJson(v, p, issues);
    case 'value':
      return plainJson(v, p, issues);
    case 'fieldmask':
      if (typeof v !== 'string') {
        issues.add(p, `expected field mask string, got ${describe(v)}`);
        return undefined;
      }
      return { paths: v.split(',').filter(Boolean).map((s) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())) };
    case 'empty':
      if (!isObject(v) || Object.keys(v).length) issues.add(p, `expected {}, got ${describe(v)}`);
      return {};
    case 'any':
      return decodeAny(v, p, issues);
  }
}

/** An Any: `{"@type": url, ...fields}`, or `{"@type": url, "value": json}` for well-known types. */
function decodeAny(v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  if (!isObject(v)) {
    issues.add(p, `expected object with "@type", got ${describe(v)}`);
    return undefined;
  }
  const url = v['@type'];
  if (typeof url !== 'string' || !url) {
    issues.add(p, 'missing "@type"');
    return undefined;
  }
  const t = lookupType(typeName(url));
  // Not loaded: keep it as a marker; the extension registry decides if that is an error.
  if (!t) return { '@type': url, '@unknown': true };
  if (wktKind(t)) {
    for (const key of Object.keys(v)) if (key !== '@type' && key !== 'value') issues.add(p, `unknown field "${key}"`);
    const inner = v.value === undefined || v.value === null ? undefined : decodeMessage(t, v.value, LazyPath.field(p, 'value'), issues);
    return inner === undefined ? { '@type': url } : { '@type': url, value: inner };
  }
  return { '@type': url, ...decodeFields(t, v, p, issues, AT_TYPE) };
}

/** Struct/Value/ListValue content: plain JSON (numbers, strings, booleans, null, arrays, objects). */
function plainJson(v: unknown, p: PathLike, issues: ConfigIssues): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) issues.add(p, 'non-finite number is not allowed in a Struct');
    return v;
  }
  if (Array.isArray(v)) return v.map((e, i) => plainJson(e, LazyPath.index(p, i), issues));
  if (v instanceof Date) return v.toISOString();
  if (isObject(v)) {
    const o: Canon = {};
    for (const [k, e] of Object.entries(v)) o[k] = plainJson(e, LazyPath.field(p, k), issues);
    return o;
  }
  issues.add(p, `expected JSON value, got ${describe(v)}`);
  return undefined;
}
