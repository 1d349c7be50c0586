// Canonical form → proto3 JSON the way Envoy's /config_dump prints it: proto field
// names (snake_case), Durations as "1.5s", Any with "@type", enums by name, 64-bit
// integers as strings, bytes as base64.
import * as protobuf from 'protobufjs';
import { Canon, typeName } from './canonical';
import { INT64_TYPES, enumOf, wktKind } from './descriptors';
import { lookupType, mustLookupType } from './root';
import { formatDuration, formatTimestamp } from './wkt';

/** Prints canonical `canon` of message `type` as proto3 JSON (a plain JSON-serialisable value). */
export function toProtoJson(type: string | protobuf.Type, canon: unknown): unknown {
  const t = typeof type === 'string' ? mustLookupType(type) : type;
  return printMessage(t, canon);
}

function printMessage(t: protobuf.Type, v: any): unknown {
  switch (wktKind(t)) {
    case 'duration':
      return formatDuration(v ?? {});
    case 'timestamp':
      return formatTimestamp(v ?? {});
    case 'wrapper':
      return printSingle(t.fields['value'], v);
    case 'struct':
    case 'value':
    case 'list':
      return v;
    case 'fieldmask':
      return (v?.paths ?? []).join(',');
    case 'empty':
      return {};
    case 'any':
      return printAny(v);
    default:
      break;
  }
  const out: Canon = {};
  // Field declaration order, so dumps are stable whatever order the input used.
  for (const f of t.fieldsArray) {
    const fv = v?.[f.name];
    if (fv === undefined) continue;
    if (f.map) {
      const m: Canon = {};
      for (const k of Object.keys(fv)) m[k] = printSingle(f, fv[k]);
      out[f.name] = m;
    } else if (f.repeated) {
      out[f.name] = (fv as unknown[]).map((e) => printSingle(f, e));
    } else {
      out[f.name] = printSingle(f, fv);
    }
  }
  return out;
}

function printAny(v: Canon): unknown {
  const url: string = v['@type'];
  const t = v['@unknown'] ? undefined : lookupType(typeName(url));
  if (!t) return { '@type': url };
  if (wktKind(t)) return v.value === undefined ? { '@type': url } : { '@type': url, value: printMessage(t, v.value) };
  return { '@type': url, ...(printMessage(t, v) as Canon) };
}

function printSingle(f: protobuf.Field, v: any): unknown {
  if (f.resolvedType instanceof protobuf.Type) return printMessage(f.resolvedType, v);
  if (enumOf(f)) return v;
  if (INT64_TYPES.has(f.type)) return String(v);
  if (f.type === 'bytes') return Buffer.from(v).toString('base64');
  if ((f.type === 'double' || f.type === 'float') && !Number.isFinite(v)) return String(v);
  return v;
}
