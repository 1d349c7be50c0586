// Envoy's regexes (type.matcher.v3.RegexMatcher, `safe_regex`) are RE2 syntax:
// https://github.com/google/re2/wiki/Syntax. This translates an RE2 pattern into an
// equivalent JS RegExp (with the `u` flag) at config time, and rejects what RE2 itself
// rejects (backreferences, lookaround) or what JS cannot express the same way
// (mid-pattern flag groups, \C), so a config Envoy NACKs is NACKed here too and a config
// Envoy accepts means the same thing.
//
// Differences handled: `.` excludes only \n in RE2 (JS also excludes \r, \u2028/9);
// \A \z; (?P<name>); \x{10FFFF}; \pL and \p{Greek}; \Q...\E; [[:alpha:]]; escaped
// punctuation that `u`-mode JS refuses (\- \# \: ...); literal `{` `}` `]`.

export type Re2Compiled = { ok: true; source: string; flags: string } | { ok: false; error: string };

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`\\{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

// `u`-mode JS allows an identity escape only for these.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

function hex(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp < 0x100 ? '\\x' + cp.toString(16).padStart(2, '0') : '\\u{' + cp.toString(16) + '}';
}

function escapeLiteral(s: string): string {
  let out = '';
  for (const c of s) out += /[0-9A-Za-z_ ]/.test(c) ? c : hex(c);
  return out;
}

/** Translates an RE2 pattern to a JS RegExp source and flags (always including 'u'). */
export function translateRe2(pattern: string): Re2Compiled {
  let i = 0;
  let dotAll = false;
  let multiLine = false;
  let ignoreCase = false;
  // Flag group at the very start, e.g. (?i) or (?is): the whole pattern's flags.
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  if (lead) {
    if (lead[1].includes('U')) return { ok: false, error: 'the ungreedy flag (?U) is not supported by switchyard' };
    ignoreCase = lead[1].includes('i');
    dotAll = lead[1].includes('s');
    multiLine = lead[1].includes('m');
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  const n = pattern.length;
  const fail = (error: string): Re2Compiled => ({ ok: false, error });

  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) return fail('trailing backslash');
      if (e === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const lit = pattern.slice(i + 2, end === -1 ? n : end);
        out += escapeLiteral(lit);
        i = end === -1 ? n : end + 2;
        continue;
      }
      if ('dDwWsS'.includes(e) || 'ntrfv'.includes(e)) out += '\\' + e;
      else if (e === 'b' || e === 'B') {
        if (inClass) return fail(`\\${e} is not allowed in a character class`);
        out += '\\' + e;
      } else if (e === 'a') out += '\\x07';
      else if (e === 'A' && !inClass) out += '(?<![\\s\\S])';
      else if (e === 'z' && !inClass) out += '(?![\\s\\S])';
      else if (e === 'x') {
        if (pattern[i + 2] === '{') {
          const end = pattern.indexOf('}', i + 3);
          const h = end === -1 ? '' : pattern.slice(i + 3, end);
          if (!/^[0-9A-Fa-f]{1,6}$/.test(h)) return fail(`invalid escape \\x{${h}}`);
          out += '\\u{' + h + '}';
          i = end + 1;
          continue;
        }
        const h = pattern.slice(i + 2, i + 4);
        if (!/^[0-9A-Fa-f]{2}$/.test(h)) return fail('invalid escape \\x' + h);
        out += '\\x' + h;
        i += 4;
        continue;
      } else if (e === 'p' || e === 'P') {
        let name: string;
        let len: number;
        if (pattern[i + 2] === '{') {
          const end = pattern.indexOf('}', i + 3);
          if (end === -1) return fail('unterminated \\p{');
          name = pattern.slice(i + 3, end);
          len = end + 1 - i;
        } else {
          name = pattern[i + 2] ?? '';
          len = 3;
        }
        let neg = e === 'P';
        if (name.startsWith('^')) {
          neg = !neg;
          name = name.slice(1);
        }
        if (!/^[A-Za-z_]+$/.test(name)) return fail(`invalid Unicode class \\${e}{${name}}`);
        const prop = name.length <= 2 || name === 'Any' ? name : 'Script=' + name;
        out += (neg ? '\\P{' : '\\p{') + prop + '}';
        i += len;
        continue;
      } else if (e >= '1' && e <= '9') return fail('backreferences are not supported by RE2');
      else if (e === '0') {
        const oct = /^[0-7]{0,2}/.exec(pattern.slice(i + 2))![0];
        out += hex(String.fromCharCode(parseInt('0' + oct, 8)));
        i += 2 + oct.length;
        continue;
      } else if (/[A-Za-z]/.test(e)) return fail(`invalid escape \\${e}`);
      else if (!inClass && JS_SYNTAX.has(e)) out += '\\' + e;
      else out += hex(e);
      i += 2;
      continue;
    }

    if (inClass) {
      if (c === ']') {
        inClass = false;
        out += ']';
      } else if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        const name = end === -1 ? '' : pattern.slice(i + 2, end);
        if (name.startsWith('^')) return fail(`negated POSIX class [:${name}:] is not supported by switchyard`);
        const cls = POSIX[name];
        if (!cls) return fail(`invalid POSIX class [:${name}:]`);
        out += cls;
        i = end + 2;
        continue;
      } else if (c === '[') out += '\\[';
      else out += c;
      i++;
      continue;
    }

    switch (c) {
      case '.':
        out += dotAll ? '[\\s\\S]' : '[^\\n]';
        break;
      case '^':
        out += multiLine ? '(?:^|(?<=\\n))' : '^';
        break;
      case '$':
        out += multiLine ? '(?:$|(?=\\n))' : '$';
        break;
      case '[': {
        inClass = true;
        out += '[';
        if (pattern[i + 1] === '^') {
          out += '^';
          i++;
        }
        // A ']' first in a class is a literal in RE2; JS would read '[]' as empty.
        if (pattern[i + 1] === ']') {
          out += '\\]';
          i++;
        }
        break;
      }
      case '(': {
        if (pattern[i + 1] !== '?') {
          out += '(';
          break;
        }
        const rest = pattern.slice(i + 2, i + 4);
        if (rest.startsWith(':')) {
          out += '(?:';
          i += 3;
          continue;
        }
        if (rest === 'P<' || (rest[0] === '<' && /[A-Za-z_]/.test(rest[1] ?? ''))) {
          const start = i + (rest === 'P<' ? 4 : 3);
          const end = pattern.indexOf('>', start);
          const name = end === -1 ? '' : pattern.slice(start, end);
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return fail(`invalid named group "${name}"`);
          out += '(?<' + name + '>';
          i = end + 1;
          continue;
        }
        if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') {
          return fail('lookaround assertions are not supported by RE2');
        }
        if (rest === 'P=') return fail('backreferences are not supported by RE2');
        return fail('flag groups are only supported at the start of the pattern by switchyard');
      }
      case '{': {
        const rep = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
        if (!rep) {
          out += '\\{';
          break;
        }
        const lo = Number(rep[1]);
        const hi = rep[3] ? Number(rep[3]) : lo;
        // RE2 caps counted repetition at 1000.
        if (lo > 1000 || hi > 1000) return fail('bad repetition operator: counts above 1000 are not allowed by RE2');
        if (rep[3] && hi < lo) return fail(`bad repetition operator ${rep[0]}`);
        out += rep[0];
        i += rep[0].length;
        continue;
      }
      case '}':
        out += '\\}';
        break;
      case ']':
        out += '\\]';
        break;
      default:
        out += c;
    }
    i++;
  }
  if (inClass) return fail('missing closing ]');
  const flags = 'u' + (ignoreCase ? 'i' : '');
  try {
    new RegExp(out, flags);
  } catch (err) {
    return fail((err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  return { ok: true, source: out, flags };
}

/**
 * Compiles an RE2 pattern. 'full' anchors both ends (RE2::FullMatch, what Envoy uses for
 * path, header and string matching); 'global' is unanchored with the g flag (for
 * RE2::GlobalReplace in regex_rewrite). Returns an error message instead of throwing.
 */
export function compileRe2(pattern: string, mode: 'full' | 'global'): RegExp | string {
  const t = translateRe2(pattern);
  if (!t.ok) return `invalid regex ${JSON.stringify(pattern)}: ${t.error}`;
  return mode === 'full' ? new RegExp('^(?:' + t.source + ')$', t.flags) : new RegExp(t.source, t.flags + 'g');
}

/** Number of capture groups of a compiled regex. */
export function groupCount(re: RegExp): number {
  return new RegExp('(?:' + re.source + ')|', re.flags.replace('g', '')).exec('')!.length - 1;
}
