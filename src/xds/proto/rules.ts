// The common protoc-gen-validate rules Envoy annotates its protos with
// (https://github.com/bufbuild/protoc-gen-validate), enforced generically on the
// canonical form so JSON bootstraps and binary xDS resources get the same checks.
// Only cheap, widely used rules are implemented; others are ignored.
//
// Rules are compiled once per message type into per-field checks, and field paths are
// rendered only for a value that breaks a rule: every field of every resource of a large
// xDS push goes through here.
import * as protobuf from 'protobufjs';
import { ConfigIssues, join } from '../../config/issues';
import type { Canon, Duration } from './canonical';
import { enumOf, mapPath } from './descriptors';
import { PathLike, pathString } from './path';
import { formatDuration } from './wkt';

type Rules = { [k: string]: any };

const NUMERIC = ['uint32', 'int32', 'sint32', 'fixed32', 'sfixed32', 'uint64', 'int64', 'sint64', 'fixed64', 'sfixed64', 'double', 'float'];

/** The rules for one value, with what does not apply dropped. */
interface ValueCheck {
  readonly ignoreEmpty: boolean;
  /** Numeric rule objects present, in NUMERIC order (usually none or one). */
  readonly numeric: readonly Rules[];
  readonly str: Rules | undefined;
  readonly enumDefinedOnly: boolean;
  readonly duration: Rules | undefined;
}

interface FieldCheck {
  readonly f: protobuf.Field;
  readonly name: string;
  readonly inOneof: boolean;
  readonly required: boolean;
  /** Absent value checked as this default (implicit-presence scalars, repeated as []); undefined: skip. */
  readonly absent: (() => unknown) | undefined;
  readonly kind: 'map' | 'repeated' | 'single';
  readonly value: ValueCheck | undefined;
  readonly map: Rules | undefined;
  readonly repeated: Rules | undefined;
}

interface Compiled {
  readonly fields: readonly FieldCheck[];
  readonly requiredOneofs: readonly protobuf.OneOf[];
}

const cache = new WeakMap<protobuf.Type, Compiled>();

function fieldRules(f: protobuf.Field): Rules | undefined {
  const po = (f as unknown as { parsedOptions?: Rules[] }).parsedOptions;
  if (!po) return undefined;
  let out: Rules | undefined;
  for (const o of po) if (o['(validate.rules)']) out = { ...out, ...o['(validate.rules)'] };
  return out;
}

function valueCheck(r: Rules | undefined): ValueCheck | undefined {
  if (!r) return undefined;
  const numeric: Rules[] = [];
  for (const k of NUMERIC) if (r[k]) numeric.push(r[k]);
  const vc: ValueCheck = {
    ignoreEmpty: !!r.ignore_empty,
    numeric,
    str: r.string || undefined,
    enumDefinedOnly: !!r.enum?.defined_only,
    duration: r.duration || undefined,
  };
  return vc.numeric.length || vc.str || vc.enumDefinedOnly || vc.duration ? vc : undefined;
}

const EMPTY_BYTES = Buffer.alloc(0);

function compileField(f: protobuf.Field, r: Rules): FieldCheck {
  f.resolve();
  const isMsg = f.resolvedType instanceof protobuf.Type;
  let absent: (() => unknown) | undefined;
  if (f.repeated && !f.map) absent = () => [];
  else if (isMsg || f.map) absent = undefined;
  else {
    const d = enumOf(f) ? 0 : f.type === 'string' ? '' : f.type === 'bool' ? false : f.type === 'bytes' ? EMPTY_BYTES : 0;
    absent = () => d;
  }
  return {
    f,
    name: f.name,
    inOneof: !!f.partOf,
    required: !!(r.message?.required || r.duration?.required || r.any?.required || r.timestamp?.required),
    absent,
    kind: f.map ? 'map' : f.repeated ? 'repeated' : 'single',
    value: f.map || f.repeated ? undefined : valueCheck(r),
    map: f.map ? r.map : undefined,
    repeated: f.repeated && !f.map ? r.repeated : undefined,
  };
}

function compile(t: protobuf.Type): Compiled {
  let c = cache.get(t);
  if (!c) {
    const fields: FieldCheck[] = [];
    for (const f of t.fieldsArray) {
      const r = fieldRules(f);
      if (r) fields.push(compileField(f, r));
    }
    const requiredOneofs: protobuf.OneOf[] = [];
    for (const o of t.oneofsArray) if (o.options?.['(validate.required)']) requiredOneofs.push(o);
    c = { fields, requiredOneofs };
    cache.set(t, c);
  }
  return c;
}

/** Per compiled item/value rules of a map or repeated field (compiled lazily, kept on the rules object). */
const subChecks = new WeakMap<Rules, ValueCheck | null>();
function subCheck(r: Rules): ValueCheck | undefined {
  let c = subChecks.get(r);
  if (c === undefined) subChecks.set(r, (c = valueCheck(r) ?? null));
  return c ?? undefined;
}

/**
 * Checks the PGV rules of one message level (sub-messages are checked when they are
 * decoded). `failed` names fields that were present but did not decode: they already
 * have an error, so they are not also reported as missing.
 */
export function checkRules(t: protobuf.Type, canon: Canon, path: PathLike, issues: ConfigIssues, failed?: Set<string>): void {
  const c = compile(t);
  for (const o of c.requiredOneofs) {
    if (!o.fieldsArray.some((f) => canon[f.name] !== undefined || failed?.has(f.name))) {
      issues.add(join(pathString(path), o.name), `is required: set one of ${o.fieldsArray.map((f) => f.name).join(', ')}`);
    }
  }
  for (const fc of c.fields) {
    let v = canon[fc.name];
    if (v === undefined) {
      // PGV validates only the member of a oneof that is set; a failed field already has its error.
      if (failed?.has(fc.name) || fc.inOneof) continue;
      if (fc.required) {
        issues.add(join(pathString(path), fc.name), 'is required');
        continue;
      }
      // Only an implicit-presence scalar outside a oneof is validated when absent (as its default).
      if (fc.absent === undefined) continue;
      v = fc.absent();
    }
    if (fc.kind === 'map') {
      const r = fc.map;
      if (!r) continue;
      const keys = Object.keys(v);
      const n = keys.length;
      if (r.min_pairs !== undefined && n < r.min_pairs) issues.add(join(pathString(path), fc.name), `must have at least ${r.min_pairs} entries`);
      if (r.max_pairs !== undefined && n > r.max_pairs) issues.add(join(pathString(path), fc.name), `must have at most ${r.max_pairs} entries`);
      const vc = r.values ? subCheck(r.values) : undefined;
      if (vc) {
        for (const k of keys) {
          const bad = checkValue(vc, v[k]);
          if (bad) for (const m of bad) issues.add(mapPath(join(pathString(path), fc.name), k), m);
        }
      }
      continue;
    }
    if (fc.kind === 'repeated') {
      const rep = fc.repeated;
      if (!rep) continue;
      if (rep.min_items !== undefined && v.length < rep.min_items) issues.add(join(pathString(path), fc.name), `must have at least ${rep.min_items} item${rep.min_items === 1 ? '' : 's'}`);
      if (rep.max_items !== undefined && v.length > rep.max_items) issues.add(join(pathString(path), fc.name), `must have at most ${rep.max_items} item${rep.max_items === 1 ? '' : 's'}`);
      const vc = rep.items ? subCheck(rep.items) : undefined;
      if (vc) {
        for (let i = 0; i < v.length; i++) {
          const bad = checkValue(vc, v[i]);
          if (bad) for (const m of bad) issues.add(join(join(pathString(path), fc.name), i), m);
        }
      }
      continue;
    }
    if (fc.value) {
      const bad = checkValue(fc.value, v);
      if (bad) for (const m of bad) issues.add(join(pathString(path), fc.name), m);
    }
  }
}

/** Unicode code points in `s` (PGV string lengths count characters, not UTF-16 units). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * Rules for a single value: numeric bounds, string length, enum defined_only, duration
 * bounds. Returns the problems (undefined when none); the caller adds the path.
 */
function checkValue(r: ValueCheck, v: any): string[] | undefined {
  if (r.ignoreEmpty && (v === 0 || v === '' || v === undefined)) return undefined;
  let out: string[] | undefined;
  if (typeof v === 'number') for (const nr of r.numeric) out = bounds(nr, v, String, out);
  const s = r.str;
  if (s && typeof v === 'string') {
    if (s.ignore_empty && v === '') return out;
    if (s.min_len !== undefined || s.max_len !== undefined) {
      const len = codePoints(v);
      if (s.min_len !== undefined && len < Number(s.min_len)) {
        (out ??= []).push(Number(s.min_len) === 1 ? 'must not be empty' : `length must be at least ${s.min_len}`);
      }
      if (s.max_len !== undefined && len > Number(s.max_len)) (out ??= []).push(`length must be at most ${s.max_len}`);
    }
    if (s.min_bytes !== undefined && Buffer.byteLength(v) < Number(s.min_bytes)) {
      (out ??= []).push(Number(s.min_bytes) === 1 ? 'must not be empty' : `must be at least ${s.min_bytes} bytes`);
    }
    if (s.max_bytes !== undefined && Buffer.byteLength(v) > Number(s.max_bytes)) (out ??= []).push(`must be at most ${s.max_bytes} bytes`);
  }
  if (r.enumDefinedOnly && typeof v === 'number' && v !== 0) (out ??= []).push(`value ${v} is not a defined enum value`);
  const d = r.duration;
  if (d && v && typeof v === 'object') out = bounds(d, nanosOf(v), (n) => formatDuration(fromNanos(n)), out, nanosOf);
  return out;
}

function bounds(
  r: Rules, v: number, fmt: (n: number) => string, out: string[] | undefined,
  conv: (x: any) => number = Number,
): string[] | undefined {
  if (r.const !== undefined && v !== conv(r.const)) (out ??= []).push(`value must equal ${fmt(conv(r.const))}`);
  if (r.gt !== undefined && !(v > conv(r.gt))) (out ??= []).push(`value must be > ${fmt(conv(r.gt))}`);
  if (r.gte !== undefined && !(v >= conv(r.gte))) (out ??= []).push(`value must be >= ${fmt(conv(r.gte))}`);
  if (r.lt !== undefined && !(v < conv(r.lt))) (out ??= []).push(`value must be < ${fmt(conv(r.lt))}`);
  if (r.lte !== undefined && !(v <= conv(r.lte))) (out ??= []).push(`value must be <= ${fmt(conv(r.lte))}`);
  if (Array.isArray(r.in) && !r.in.map(conv).includes(v)) (out ??= []).push(`value must be one of ${r.in.map((x: any) => fmt(conv(x))).join(', ')}`);
  if (Array.isArray(r.not_in) && r.not_in.map(conv).includes(v)) (out ??= []).push(`value must not be ${fmt(v)}`);
  return out;
}

function nanosOf(d: Duration | undefined): number {
  return (Number(d?.seconds ?? 0)) * 1e9 + Number(d?.nanos ?? 0);
}

function fromNanos(n: number): Duration {
  return { seconds: Math.trunc(n / 1e9), nanos: n % 1e9 };
}
