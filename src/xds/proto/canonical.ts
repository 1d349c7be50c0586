// The one in-memory shape every config takes after decoding, whether it came from a
// YAML/JSON bootstrap (proto3 JSON mapping) or from a binary xDS resource:
//
//   - keys are proto field names (snake_case), and only fields that are present appear;
//   - scalars are JS numbers / booleans / strings (64-bit ints as numbers), bytes are Buffers;
//   - enums are their value names ('ROUND_ROBIN');
//   - google.protobuf.Any is `{ '@type': 'type.googleapis.com/x.y.Z', ...fields of x.y.Z }`;
//     an Any whose type is not known to the loaded protos is `{ '@type': url, '@unknown': true }`
//     and the extension registry decides whether that is an error (is_optional);
//   - google.protobuf.Duration / Timestamp are `{ seconds, nanos }`;
//   - wrapper types (UInt32Value, BoolValue, …) are the bare value;
//   - google.protobuf.Struct / Value / ListValue are plain JSON values.
//
// Domain decoders (xds/resources, filter configs) read this shape and nothing else.

export type Canon = { [k: string]: any };

export interface Duration {
  seconds?: number;
  nanos?: number;
}

export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return (d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

export function typeName(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('/');
  return i >= 0 ? typeUrl.slice(i + 1) : typeUrl;
}

export const TYPE_PREFIX = 'type.googleapis.com/';

/**
 * A string that is equal for equal canonical values: what tells an xDS resource resent
 * unchanged (SotW resends every resource on each push) from a changed one. Object keys are
 * sorted, since a proto map may come in any order (Go's encoder does not fix it).
 */
export function canonKey(v: Canon): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? sortedKeys(x as Record<string, unknown>) : x));
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}
