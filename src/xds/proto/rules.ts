// The common protoc-gen-validate rules Envoy annotates its protos with
// (https://github.com/bufbuild/protoc-gen-validate), enforced generically on the
// canonical form so JSON bootstraps and binary xDS resources get the same checks.
// Only cheap, widely used rules are implemented; others are ignored.
import * as protobuf from 'protobufjs';
import { ConfigIssues, join } from '../../config/issues';
import type { Canon, Duration } from './canonical';
import { enumOf, mapPath } from './descriptors';
import { formatDuration } from './wkt';

type Rules = { [k: string]: any };

interface Compiled {
  fields: { f: protobuf.Field; r: Rules }[];
  requiredOneofs: protobuf.OneOf[];
}

const cache = new WeakMap<protobuf.Type, Compiled>();

function fieldRules(f: protobuf.Field): Rules | undefined {
  const po = (f as unknown as { parsedOptions?: Rules[] }).parsedOptions;
  if (!po) return undefined;
  let out: Rules | undefined;
  for (const o of po) if (o['(validate.rules)']) out = { ...out, ...o['(validate.rules)'] };
  return out;
}

function compile(t: protobuf.Type): Compiled {
  let c = cache.get(t);
  if (!c) {
    c = { fields: [], requiredOneofs: [] };
    for (const f of t.fieldsArray) {
      const r = fieldRules(f);
      if (r) c.fields.push({ f, r });
    }
    for (const o of t.oneofsArray) if (o.options?.['(validate.required)']) c.requiredOneofs.push(o);
    cache.set(t, c);
  }
  return c;
}

/**
 * Checks the PGV rules of one message level (sub-messages are checked when they are
 * decoded). `failed` names fields that were present but did not decode: they already
 * have an error, so they are not also reported as missing.
 */
export function checkRules(t: protobuf.Type, canon: Canon, path: string, issues: ConfigIssues, failed?: Set<string>): void {
  const c = compile(t);
  for (const o of c.requiredOneofs) {
    if (!o.fieldsArray.some((f) => canon[f.name] !== undefined || failed?.has(f.name))) {
      issues.add(join(path, o.name), `is required: set one of ${o.fieldsArray.map((f) => f.name).join(', ')}`);
    }
  }
  for (const { f, r } of c.fields) {
    const p = join(path, f.name);
    let v = canon[f.name];
    if (v === undefined) {
      // PGV validates only the member of a oneof that is set; a failed field already has its error.
      if (failed?.has(f.name) || f.partOf) continue;
      if (r.message?.required || r.duration?.required || r.any?.required || r.timestamp?.required) {
        issues.add(p, 'is required');
        continue;
      }
      // Only an implicit-presence scalar outside a oneof is validated when absent (as its default).
      if (f.repeated && !f.map) v = [];
      else if (f.resolvedType instanceof protobuf.Type || f.map) continue;
      else v = enumOf(f) ? 0 : f.type === 'string' ? '' : f.type === 'bool' ? false : f.type === 'bytes' ? Buffer.alloc(0) : 0;
    }
    if (f.map) {
      const n = Object.keys(v).length;
      if (r.map?.min_pairs !== undefined && n < r.map.min_pairs) issues.add(p, `must have at least ${r.map.min_pairs} entries`);
      if (r.map?.max_pairs !== undefined && n > r.map.max_pairs) issues.add(p, `must have at most ${r.map.max_pairs} entries`);
      if (r.map?.values) for (const k of Object.keys(v)) checkValue(r.map.values, v[k], mapPath(p, k), issues);
      continue;
    }
    if (f.repeated) {
      const rep = r.repeated;
      if (!rep) continue;
      if (rep.min_items !== undefined && v.length < rep.min_items) issues.add(p, `must have at least ${rep.min_items} item${rep.min_items === 1 ? '' : 's'}`);
      if (rep.max_items !== undefined && v.length > rep.max_items) issues.add(p, `must have at most ${rep.max_items} item${rep.max_items === 1 ? '' : 's'}`);
      if (rep.items) (v as unknown[]).forEach((e, i) => checkValue(rep.items, e, join(p, i), issues));
      continue;
    }
    checkValue(r, v, p, issues);
  }
}

const NUMERIC = ['uint32', 'int32', 'sint32', 'fixed32', 'sfixed32', 'uint64', 'int64', 'sint64', 'fixed64', 'sfixed64', 'double', 'float'];

/** Rules for a single value: numeric bounds, string length, enum defined_only, duration bounds. */
function checkValue(r: Rules, v: any, p: string, issues: ConfigIssues): void {
  if (r.ignore_empty && (v === 0 || v === '' || v === undefined)) return;
  for (const k of NUMERIC) {
    const nr = r[k];
    if (nr && typeof v === 'number') bounds(nr, v, String, p, issues);
  }
  const s = r.string;
  if (s && typeof v === 'string') {
    if (s.ignore_empty && v === '') return;
    const len = [...v].length;
    if (s.min_len !== undefined && len < Number(s.min_len)) {
      issues.add(p, Number(s.min_len) === 1 ? 'must not be empty' : `length must be at least ${s.min_len}`);
    }
    if (s.max_len !== undefined && len > Number(s.max_len)) issues.add(p, `length must be at most ${s.max_len}`);
    if (s.min_bytes !== undefined && Buffer.byteLength(v) < Number(s.min_bytes)) {
      issues.add(p, Number(s.min_bytes) === 1 ? 'must not be empty' : `must be at least ${s.min_bytes} bytes`);
    }
    if (s.max_bytes !== undefined && Buffer.byteLength(v) > Number(s.max_bytes)) issues.add(p, `must be at most ${s.max_bytes} bytes`);
  }
  if (r.enum?.defined_only && typeof v === 'number' && v !== 0) issues.add(p, `value ${v} is not a defined enum value`);
  const d = r.duration;
  if (d && v && typeof v === 'object') bounds(d, nanosOf(v), (n) => formatDuration(fromNanos(n)), p, issues, nanosOf);
}

function bounds(
  r: Rules, v: number, fmt: (n: number) => string, p: string, issues: ConfigIssues,
  conv: (x: any) => number = Number,
): void {
  if (r.const !== undefined && v !== conv(r.const)) issues.add(p, `value must equal ${fmt(conv(r.const))}`);
  if (r.gt !== undefined && !(v > conv(r.gt))) issues.add(p, `value must be > ${fmt(conv(r.gt))}`);
  if (r.gte !== undefined && !(v >= conv(r.gte))) issues.add(p, `value must be >= ${fmt(conv(r.gte))}`);
  if (r.lt !== undefined && !(v < conv(r.lt))) issues.add(p, `value must be < ${fmt(conv(r.lt))}`);
  if (r.lte !== undefined && !(v <= conv(r.lte))) issues.add(p, `value must be <= ${fmt(conv(r.lte))}`);
  if (Array.isArray(r.in) && !r.in.map(conv).includes(v)) issues.add(p, `value must be one of ${r.in.map((x: any) => fmt(conv(x))).join(', ')}`);
  if (Array.isArray(r.not_in) && r.not_in.map(conv).includes(v)) issues.add(p, `value must not be ${fmt(v)}`);
}

function nanosOf(d: Duration | undefined): number {
  return (Number(d?.seconds ?? 0)) * 1e9 + Number(d?.nanos ?? 0);
}

function fromNanos(n: number): Duration {
  return { seconds: Math.trunc(n / 1e9), nanos: n % 1e9 };
}
