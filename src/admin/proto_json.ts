// Canonical config objects (src/xds/proto/canonical.ts) → Envoy's proto3 JSON for the
// admin's dumps, through the project's one printer (src/xds/proto/print.ts): Durations
// as "1.5s", 64-bit integers as strings, Any as {"@type", ...fields}.
import { type Canon, TYPE_PREFIX, typeName as typeNameOf } from '../xds/proto/canonical';
import { toProtoJson as print } from '../xds/proto/print';
import { log } from '../log';

/** proto3 JSON of a canonical message of `typeName` ('envoy.config.cluster.v3.Cluster'). */
export function toProtoJson(typeName: string, canon: Canon): Record<string, unknown> {
  const name = typeNameOf(typeName);
  try {
    return print(name, canon) as Record<string, unknown>;
  } catch (err) {
    // A dump must not fail because one message type is not loaded: show the canonical
    // form (it already uses proto field names) rather than nothing.
    log.warn('admin: cannot print message as proto JSON', { type: name, err });
    return plain(canon) as Record<string, unknown>;
  }
}

/** The same, as a google.protobuf.Any: "@type" first, then the fields. */
export function toAnyJson(typeName: string, canon: Canon): Record<string, unknown> {
  const name = typeNameOf(typeName);
  const body = { ...toProtoJson(name, canon) };
  delete body['@type'];
  return { '@type': TYPE_PREFIX + name, ...body };
}

function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== '@unknown') o[k] = plain(x);
    return o;
  }
  return v;
}
