// Small readers shared by every domain decoder (xds/resources/*, filter configs).
// They read the canonical form (xds/proto/canonical.ts), which has already been
// type-checked against the proto descriptors, so these only apply defaults and the
// Switchyard-specific rule from the config issue: a field Envoy has but Switchyard
// does not implement is rejected, naming it, never silently ignored.
import { ConfigIssues, join } from '../../config/issues';
import { Canon, durationMs } from '../proto/canonical';

export const NOT_SUPPORTED = 'not supported by switchyard';

/**
 * Reports every present field of `canon` that is not in `allowed` as
 * `<path>.<field>: not supported by switchyard`. '@type' is always allowed.
 * Each decoder lists the fields it reads, so a new Envoy field never slips through.
 */
export function onlyFields(canon: Canon | undefined, path: string, issues: ConfigIssues, allowed: readonly string[]): void {
  if (!canon || typeof canon !== 'object') return;
  for (const k in canon) {
    if (k === '@type' || canon[k] === undefined) continue;
    if (!allowed.includes(k)) issues.add(join(path, k), NOT_SUPPORTED);
  }
}

/** Reports `field` as unsupported if present (for one-off checks inside a sub-message). */
export function rejectField(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues, why?: string): void {
  if (canon && canon[field] !== undefined) issues.add(join(path, field), why ? `${NOT_SUPPORTED}: ${why}` : NOT_SUPPORTED);
}

/** For an Envoy field a later issue will implement: `<path>.<field>: not supported by switchyard yet`. */
export function rejectFieldYet(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues): void {
  if (canon && canon[field] !== undefined) issues.add(join(path, field), `${NOT_SUPPORTED} yet`);
}

/** Reports `<path>.<field>: is required` when absent; returns whether present. */
export function requireField(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues): boolean {
  if (canon && canon[field] !== undefined) return true;
  issues.add(join(path, field), 'is required');
  return false;
}

/** A google.protobuf.Duration field in milliseconds, or `dflt` when absent. */
export function readDurationMs(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues, dflt: number): number;
export function readDurationMs(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues, dflt?: number): number | undefined;
export function readDurationMs(canon: Canon | undefined, field: string, path: string, issues: ConfigIssues, dflt?: number): number | undefined {
  const v = canon?.[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'object' || v === null) {
    issues.add(join(path, field), `expected duration, got ${JSON.stringify(v)}`);
    return dflt;
  }
  const ms = durationMs(v);
  if (ms === undefined || ms < 0) {
    issues.add(join(path, field), 'duration must not be negative');
    return dflt;
  }
  return ms;
}

export function readString(canon: Canon | undefined, field: string, dflt: string): string;
export function readString(canon: Canon | undefined, field: string, dflt?: string): string | undefined;
export function readString(canon: Canon | undefined, field: string, dflt?: string): string | undefined {
  const v = canon?.[field];
  return typeof v === 'string' ? v : dflt;
}

/** Numeric field or wrapper (UInt32Value etc. are bare numbers in canonical form). */
export function readNumber(canon: Canon | undefined, field: string, dflt: number): number;
export function readNumber(canon: Canon | undefined, field: string, dflt?: number): number | undefined;
export function readNumber(canon: Canon | undefined, field: string, dflt?: number): number | undefined {
  const v = canon?.[field];
  return typeof v === 'number' ? v : dflt;
}

export function readBool(canon: Canon | undefined, field: string, dflt: boolean): boolean;
export function readBool(canon: Canon | undefined, field: string, dflt?: boolean): boolean | undefined;
export function readBool(canon: Canon | undefined, field: string, dflt?: boolean): boolean | undefined {
  const v = canon?.[field];
  return typeof v === 'boolean' ? v : dflt;
}

/**
 * An enum field (canonical form holds the value name). `supported` lists the names
 * Switchyard implements; any other present value is reported as not supported.
 */
export function readEnum<T extends string>(
  canon: Canon | undefined, field: string, path: string, issues: ConfigIssues, dflt: T, supported: readonly T[],
): T {
  const v = canon?.[field];
  if (v === undefined) return dflt;
  if (typeof v === 'string' && (supported as readonly string[]).includes(v)) return v as T;
  issues.add(join(path, field), `${JSON.stringify(v)} ${NOT_SUPPORTED}`);
  return dflt;
}

/** A repeated field as an array (absent = empty). */
export function readList(canon: Canon | undefined, field: string): any[] {
  const v = canon?.[field];
  return Array.isArray(v) ? v : [];
}

/** A message field as an object, or undefined. */
export function readMessage(canon: Canon | undefined, field: string): Canon | undefined {
  const v = canon?.[field];
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? v : undefined;
}
