// Decodes config.route.v3.RouteMatch and the matchers inside it (HeaderMatcher,
// QueryParameterMatcher, type.matcher.v3.StringMatcher / RegexMatcher) into the compiled
// forms of ./types. Every field Switchyard does not implement is rejected by name.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routematch
import { ConfigIssues, join } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';
import { onlyFields, readBool, readList, readMessage, readString, requireField } from '../xds/resources/fields';
import { compileRe2 } from './re2';
import type { HeaderMatcher, PathMatch, QueryParameterMatcher, RouteMatch, StringMatch } from './types';

// RFC 7230 token, plus a leading ':' for pseudo-headers.
const HEADER_NAME = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Checks a header name (lower-casing it, as Envoy's LowerCaseString does); returns '' if invalid. */
export function headerName(v: unknown, path: string, issues: ConfigIssues): string {
  if (typeof v !== 'string' || !HEADER_NAME.test(v)) {
    issues.add(path, `invalid header name ${JSON.stringify(v)}`);
    return '';
  }
  return v.toLowerCase();
}

/**
 * Returns which of `fields` is present, reporting more than one (a oneof) and, when
 * `required`, none.
 */
export function oneOf(canon: Canon, fields: readonly string[], path: string, issues: ConfigIssues, required: boolean): string | undefined {
  const present = fields.filter((f) => canon[f] !== undefined);
  if (present.length > 1) issues.add(path, `only one of ${present.join(', ')} may be set`);
  if (present.length === 0 && required) issues.add(path, `one of ${fields.join(', ')} is required`);
  return present[0];
}

/** type.matcher.v3.RegexMatcher → compiled RegExp (mode as in compileRe2), or undefined. */
export function decodeRegexMatcher(canon: Canon | undefined, path: string, issues: ConfigIssues, mode: 'full' | 'global'): RegExp | undefined {
  if (!canon) return undefined;
  // google_re2 is a deprecated engine marker; RE2 is the only engine anyway.
  onlyFields(canon, path, issues, ['regex', 'google_re2']);
  const g = readMessage(canon, 'google_re2');
  if (g) onlyFields(g, join(path, 'google_re2'), issues, []);
  if (!requireField(canon, 'regex', path, issues)) return undefined;
  const re = compileRe2(String(canon.regex), mode);
  if (typeof re === 'string') {
    issues.add(join(path, 'regex'), re);
    return undefined;
  }
  return re;
}

const NEVER = /(?!)/;

/** type.matcher.v3.StringMatcher. */
export function decodeStringMatcher(canon: Canon, path: string, issues: ConfigIssues): StringMatch {
  onlyFields(canon, path, issues, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case']);
  const kind = oneOf(canon, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'], path, issues, true);
  const ignoreCase = readBool(canon, 'ignore_case', false);
  if (kind === 'safe_regex') {
    // ignore_case has no effect on safe_regex (Envoy docs); write (?i) in the regex instead.
    const re = decodeRegexMatcher(readMessage(canon, 'safe_regex'), join(path, 'safe_regex'), issues, 'full');
    return { t: 'regex', re: re ?? NEVER, source: String(canon.safe_regex?.regex ?? '') };
  }
  const t = (kind ?? 'exact') as 'exact' | 'prefix' | 'suffix' | 'contains';
  const value = readString(canon, t, '');
  if (t !== 'exact' && value === '') issues.add(join(path, t), 'must not be empty');
  return { t, value: ignoreCase ? value.toLowerCase() : value, ignoreCase };
}

/** config.route.v3.HeaderMatcher; the deprecated *_match fields become a StringMatch. */
export function decodeHeaderMatcher(canon: Canon, path: string, issues: ConfigIssues): HeaderMatcher {
  const legacy = ['exact_match', 'safe_regex_match', 'prefix_match', 'suffix_match', 'contains_match'];
  const specifiers = [...legacy, 'range_match', 'present_match', 'string_match'];
  onlyFields(canon, path, issues, ['name', ...specifiers, 'invert_match', 'treat_missing_header_as_empty']);
  const name = requireField(canon, 'name', path, issues) ? headerName(canon.name, join(path, 'name'), issues) : '';
  const kind = oneOf(canon, specifiers, path, issues, false);
  let match: HeaderMatcher['match'] = { t: 'any' };
  switch (kind) {
    case 'string_match':
      match = { t: 'string', sm: decodeStringMatcher(canon.string_match, join(path, kind), issues) };
      break;
    case 'safe_regex_match': {
      const re = decodeRegexMatcher(canon.safe_regex_match, join(path, kind), issues, 'full');
      match = { t: 'string', sm: { t: 'regex', re: re ?? NEVER, source: String(canon.safe_regex_match?.regex ?? '') } };
      break;
    }
    case 'exact_match':
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match': {
      const value = String(canon[kind]);
      // As in Envoy, an empty exact_match means "present" (legacy behaviour).
      if (kind === 'exact_match' && value === '') break;
      if (value === '') issues.add(join(path, kind), 'must not be empty');
      match = { t: 'string', sm: { t: kind.slice(0, -6) as 'exact', value, ignoreCase: false } };
      break;
    }
    case 'range_match': {
      const r = canon.range_match as Canon;
      onlyFields(r, join(path, kind), issues, ['start', 'end']);
      const start = Number(r.start ?? 0);
      const end = Number(r.end ?? 0);
      if (!(start < end)) issues.add(join(path, kind), 'start must be less than end');
      match = { t: 'range', start, end };
      break;
    }
    case 'present_match':
      match = { t: 'present', present: canon.present_match === true };
      break;
  }
  return {
    name,
    match,
    invert: readBool(canon, 'invert_match', false),
    treatMissingAsEmpty: readBool(canon, 'treat_missing_header_as_empty', false),
  };
}

function decodeQueryParameterMatcher(canon: Canon, path: string, issues: ConfigIssues): QueryParameterMatcher {
  onlyFields(canon, path, issues, ['name', 'string_match', 'present_match']);
  requireField(canon, 'name', path, issues);
  const name = readString(canon, 'name', '');
  const kind = oneOf(canon, ['string_match', 'present_match'], path, issues, false);
  if (kind === 'string_match') return { name, sm: decodeStringMatcher(canon.string_match, join(path, kind), issues) };
  if (kind === 'present_match') return { name, presentMatch: canon.present_match === true };
  return { name };
}

const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'connect_matcher', 'path_match_policy'];

/** config.route.v3.RouteMatch. */
export function decodeRouteMatch(canon: Canon | undefined, path: string, issues: ConfigIssues): RouteMatch {
  const m = canon ?? {};
  // connect_matcher, path_match_policy, runtime_fraction, tls_context and
  // dynamic_metadata are not implemented and so are rejected here.
  onlyFields(m, path, issues, ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'case_sensitive', 'headers', 'query_parameters', 'grpc']);
  const caseSensitive = readBool(m, 'case_sensitive', true);
  const kind = oneOf(m, PATH_SPECIFIERS, path, issues, true);
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  let pm: PathMatch = { t: 'prefix', value: '' };
  switch (kind) {
    case 'prefix':
      pm = { t: 'prefix', value: fold(readString(m, 'prefix', '')) };
      break;
    case 'path':
      pm = { t: 'path', value: fold(readString(m, 'path', '')) };
      break;
    case 'path_separated_prefix': {
      const v = readString(m, kind, '');
      // Envoy's validation: no query or fragment and no trailing slash.
      if (!/^[^?#]+[^?#/]$/.test(v)) issues.add(join(path, kind), 'must not be empty, contain ? or #, or end with /');
      pm = { t: 'path_separated_prefix', value: fold(v) };
      break;
    }
    case 'safe_regex': {
      const re = decodeRegexMatcher(readMessage(m, kind), join(path, kind), issues, 'full');
      pm = { t: 'regex', re: re ?? NEVER, source: String(m.safe_regex?.regex ?? '') };
      break;
    }
  }
  const grpc = readMessage(m, 'grpc');
  if (grpc) onlyFields(grpc, join(path, 'grpc'), issues, []);
  return {
    path: pm,
    caseSensitive,
    headers: readList(m, 'headers').map((h, i) => decodeHeaderMatcher(h, join(join(path, 'headers'), i), issues)),
    queryParameters: readList(m, 'query_parameters').map((q, i) =>
      decodeQueryParameterMatcher(q, join(join(path, 'query_parameters'), i), issues),
    ),
    grpc: grpc !== undefined,
  };
}
