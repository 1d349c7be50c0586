// Facts about protobufjs reflection objects that both decoders (proto3 JSON and binary)
// and the printer need: how a JSON key maps to a field, which fields have presence,
// which types have a special JSON form (https://protobuf.dev/programming-guides/json/).
import * as protobuf from 'protobufjs';

/** Well-known types whose proto3 JSON form is not a plain object of their fields. */
export type WktKind = 'any' | 'duration' | 'timestamp' | 'wrapper' | 'struct' | 'value' | 'list' | 'fieldmask' | 'empty';

const WKT: Record<string, WktKind> = {
  'google.protobuf.Any': 'any',
  'google.protobuf.Duration': 'duration',
  'google.protobuf.Timestamp': 'timestamp',
  'google.protobuf.DoubleValue': 'wrapper',
  'google.protobuf.FloatValue': 'wrapper',
  'google.protobuf.Int64Value': 'wrapper',
  'google.protobuf.UInt64Value': 'wrapper',
  'google.protobuf.Int32Value': 'wrapper',
  'google.protobuf.UInt32Value': 'wrapper',
  'google.protobuf.BoolValue': 'wrapper',
  'google.protobuf.StringValue': 'wrapper',
  'google.protobuf.BytesValue': 'wrapper',
  'google.protobuf.Struct': 'struct',
  'google.protobuf.Value': 'value',
  'google.protobuf.ListValue': 'list',
  'google.protobuf.FieldMask': 'fieldmask',
  'google.protobuf.Empty': 'empty',
};

export function fullName(t: protobuf.ReflectionObject): string {
  return t.fullName.startsWith('.') ? t.fullName.slice(1) : t.fullName;
}

const wktKinds = new WeakMap<protobuf.Type, WktKind | null>();

/**
 * The well-known type a message type is, if any. Cached per type: protobufjs rebuilds
 * fullName from the parent chain on every read, and the decoders ask for every message
 * they convert (measured as the largest self time of a 5,000-cluster push).
 */
export function wktKind(t: protobuf.Type): WktKind | undefined {
  let k = wktKinds.get(t);
  if (k === undefined) wktKinds.set(t, (k = WKT[fullName(t)] ?? null));
  return k ?? undefined;
}

/** lower_snake → lowerCamel, the default json_name protoc derives. */
export function camelName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const keyMaps = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** A type's fields by proto name and by lowerCamel json name (Envoy accepts both). */
export function fieldsByKey(t: protobuf.Type): Map<string, protobuf.Field> {
  let m = keyMaps.get(t);
  if (!m) {
    m = new Map();
    for (const f of t.fieldsArray) {
      f.resolve();
      m.set(f.name, f);
      const c = camelName(f.name);
      if (!m.has(c)) m.set(c, f);
    }
    keyMaps.set(t, m);
  }
  return m;
}

/** A field's oneof, ignoring the synthetic oneof protoc makes for proto3 `optional`. */
export function realOneof(f: protobuf.Field): protobuf.OneOf | undefined {
  const o = f.partOf;
  if (!o || isSyntheticOneof(o)) return undefined;
  return o;
}

export function isSyntheticOneof(o: protobuf.OneOf): boolean {
  return o.fieldsArray.length === 1 && o.name === '_' + o.fieldsArray[0].name;
}

/**
 * Whether a field tracks presence. Proto3 singular scalars without `optional` do not:
 * their default value is indistinguishable from absence on the wire, so the canonical
 * form drops them in both decoders (round trips stay equal).
 */
export function hasPresence(f: protobuf.Field): boolean {
  if (f.repeated || f.map) return false;
  if (f.resolvedType instanceof protobuf.Type) return true;
  return !!f.partOf;
}

/** The enum of a field, if it is an enum field. */
export function enumOf(f: protobuf.Field): protobuf.Enum | undefined {
  return f.resolvedType instanceof protobuf.Enum ? f.resolvedType : undefined;
}

/** True for the default (zero) value of a scalar or enum field in canonical form. */
export function isZero(f: protobuf.Field, v: unknown): boolean {
  const e = enumOf(f);
  if (e) return v === 0 || (typeof v === 'string' && e.values[v] === 0);
  if (v === 0 || v === false || v === '') return true;
  return Buffer.isBuffer(v) && v.length === 0;
}

export const INT_RANGES: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
};

export const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

/** Short description of a JSON value for "expected X, got Y" messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  if (typeof v === 'object') return 'object';
  return String(v);
}

/** Path for a map entry: `field["key"]`. */
export function mapPath(base: string, key: string): string {
  return `${base}[${JSON.stringify(key)}]`;
}
