// Proto3 JSON forms of google.protobuf.Duration and Timestamp, and conversions between
// the binary Struct/Value/ListValue messages and plain JSON.
// https://protobuf.dev/programming-guides/json/
import type { Duration } from './canonical';
import { mustLookupType } from './root';

const MAX_DURATION_S = 315576000000; // ±10000 years, the documented Duration range

/** "1.5s" → {seconds: 1, nanos: 500000000}; zero members are omitted. Returns an error string on bad input. */
export function parseDuration(s: string): Duration | string {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(s);
  if (!m) return `invalid duration ${JSON.stringify(s)}: expected e.g. "1s", "0.25s"`;
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  if (seconds > MAX_DURATION_S) return `duration ${JSON.stringify(s)} out of range`;
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return durationObj(sign * seconds, sign * nanos);
}

export function durationObj(seconds: number, nanos: number): Duration {
  const d: Duration = {};
  if (seconds) d.seconds = seconds;
  if (nanos) d.nanos = nanos;
  return d;
}

/** {seconds, nanos} → "1.5s" (trailing zeros trimmed like the reference printer's 3/6/9 digits). */
export function formatDuration(d: Duration): string {
  const s = d.seconds ?? 0;
  const n = d.nanos ?? 0;
  const neg = s < 0 || n < 0;
  const as = Math.abs(s);
  const an = Math.abs(n);
  return `${neg ? '-' : ''}${as}${fracDigits(an)}s`;
}

function fracDigits(nanos: number): string {
  if (!nanos) return '';
  const p = String(nanos).padStart(9, '0');
  if (p.endsWith('000000')) return '.' + p.slice(0, 3);
  if (p.endsWith('000')) return '.' + p.slice(0, 6);
  return '.' + p;
}

/** RFC 3339 ("2024-01-02T03:04:05.5Z", offsets allowed) → {seconds, nanos}, or an error string. */
export function parseTimestamp(s: string): Duration | string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(s);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) return `invalid timestamp ${JSON.stringify(s)}: expected RFC 3339`;
  return durationObj(Math.floor(ms / 1000), m[2] ? Number(m[2].padEnd(9, '0')) : 0);
}

export function formatTimestamp(t: Duration): string {
  const iso = new Date((t.seconds ?? 0) * 1000).toISOString(); // ends in ".000Z"
  return iso.slice(0, 19) + fracDigits(t.nanos ?? 0) + 'Z';
}

type Msg = { [k: string]: any };

// protobufjs defines google.protobuf.Value itself (protobuf.common), with lowerCamel
// field names regardless of keepCase; resolve the names from the loaded type.
type ValueKey = 'null_value' | 'number_value' | 'string_value' | 'bool_value' | 'struct_value' | 'list_value';
let valueKeys: Record<ValueKey, string> | undefined;
function vk(k: ValueKey): string {
  if (!valueKeys) {
    const t = mustLookupType('google.protobuf.Value');
    const pick = (snake: string) => (t.fields[snake] ? snake : snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    valueKeys = {
      null_value: pick('null_value'), number_value: pick('number_value'), string_value: pick('string_value'),
      bool_value: pick('bool_value'), struct_value: pick('struct_value'), list_value: pick('list_value'),
    };
  }
  return valueKeys[k];
}

const own = (o: Msg, k: string) => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== null && o[k] !== undefined;

/** Binary google.protobuf.Value (protobufjs message) → JSON value. */
export function valueToJson(v: Msg | null | undefined): unknown {
  if (!v) return null;
  if (own(v, vk('struct_value'))) return structToJson(v[vk('struct_value')]);
  if (own(v, vk('list_value'))) return listToJson(v[vk('list_value')]);
  if (own(v, vk('string_value'))) return v[vk('string_value')];
  if (own(v, vk('number_value'))) return v[vk('number_value')];
  if (own(v, vk('bool_value'))) return v[vk('bool_value')];
  return null;
}

export function structToJson(s: Msg | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s?.fields ?? {}) as Msg)) out[k] = valueToJson(v);
  return out;
}

export function listToJson(l: Msg | null | undefined): unknown[] {
  return ((l?.values ?? []) as Msg[]).map(valueToJson);
}

/** JSON value → protobufjs object for google.protobuf.Value (for fromObject). */
export function jsonToValue(v: unknown): Msg {
  if (v === null || v === undefined) return { [vk('null_value')]: 0 };
  if (typeof v === 'number') return { [vk('number_value')]: v };
  if (typeof v === 'string') return { [vk('string_value')]: v };
  if (typeof v === 'boolean') return { [vk('bool_value')]: v };
  if (Array.isArray(v)) return { [vk('list_value')]: jsonToList(v) };
  return { [vk('struct_value')]: jsonToStruct(v as Record<string, unknown>) };
}

export function jsonToStruct(o: Record<string, unknown>): Msg {
  const fields: Msg = {};
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToValue(v);
  return { fields };
}

export function jsonToList(a: unknown[]): Msg {
  return { values: a.map(jsonToValue) };
}
