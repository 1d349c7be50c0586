// Route tables: decoding (with errors and field paths), virtual host selection, route
// matching, rewrites, redirects, header mutations and weighted clusters. The canonical
// objects are written by hand (snake_case keys, Durations as {seconds, nanos}).
import { seededRandom } from '../support/prng';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigIssues } from '../../src/config/issues';
import { HeaderMap } from '../../src/http/headers';
import type { RequestHead } from '../../src/http/stream';
import { decodeRouteConfiguration } from '../../src/routing/decode';
import type { FormatContext } from '../../src/routing/header_format';
import { applyRequestHeaderMutations, applyResponseHeaderMutations } from '../../src/routing/header_mutation';
import { matchRoute, selectVirtualHost, stripHostPort } from '../../src/routing/match';
import { compileRe2 } from '../../src/routing/re2';
import { pickWeightedCluster, redirectLocation, rewriteHost, rewritePath } from '../../src/routing/rewrite';
import type { RedirectAction, Route, RouteAction, RouteTable } from '../../src/routing/types';
import type { Canon } from '../../src/xds/proto/canonical';

function decode(canon: Canon): { table: RouteTable; issues: ConfigIssues } {
  const issues = new ConfigIssues();
  const table = decodeRouteConfiguration(canon, 'route_config', issues);
  return { table, issues };
}

function ok(canon: Canon): RouteTable {
  const { table, issues } = decode(canon);
  assert.deepEqual(issues.list, []);
  return table;
}

function errors(canon: Canon): string[] {
  return decode(canon).issues.list.map((i) => `${i.path}: ${i.message}`);
}

function head(path: string, headers: [string, string][] = [], authority = 'a.com', method = 'GET'): RequestHead {
  const h = new HeaderMap();
  for (const [k, v] of headers) h.add(k, v);
  return { method, path, authority, scheme: 'http', protocol: 'HTTP/1.1', headers: h };
}

/** One vhost '*' with the given routes (each a canonical Route). */
function routes(...rs: Canon[]): Canon {
  return { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: rs }] };
}

const to = (cluster: string, match: Canon, extra: Canon = {}): Canon => ({ name: cluster, match, route: { cluster, ...extra } });

function routed(table: RouteTable, h: RequestHead): string | undefined {
  const vh = selectVirtualHost(table, h.authority);
  return vh && matchRoute(vh, h)?.name;
}

describe('virtual host selection', () => {
  const table = ok({
    name: 'rc',
    virtual_hosts: [
      { name: 'any', domains: ['*'], routes: [] },
      { name: 'prefix-short', domains: ['foo.*'], routes: [] },
      { name: 'prefix-long', domains: ['foo.bar.*'], routes: [] },
      { name: 'suffix-short', domains: ['*.com'], routes: [] },
      { name: 'suffix-long', domains: ['*.foo.com', '*-bar.foo.com'], routes: [] },
      { name: 'exact', domains: ['www.foo.com', 'Mixed.Example'], routes: [] },
      { name: 'with-port', domains: ['api.foo.com:8080'], routes: [] },
    ],
  });
  const pick = (a: string) => selectVirtualHost(table, a)?.name;

  it('prefers exact, then the longest suffix wildcard, then the longest prefix wildcard, then *', () => {
    assert.equal(pick('www.foo.com'), 'exact');
    assert.equal(pick('a.foo.com'), 'suffix-long');
    assert.equal(pick('baz-bar.foo.com'), 'suffix-long');
    assert.equal(pick('x.com'), 'suffix-short');
    assert.equal(pick('foo.bar.org'), 'prefix-long');
    assert.equal(pick('foo.org'), 'prefix-short');
    assert.equal(pick('other.org'), 'any');
  });

  it('a suffix wildcard beats a prefix wildcard that also matches', () => {
    assert.equal(pick('foo.x.com'), 'suffix-short');
  });

  it('is case-insensitive', () => {
    assert.equal(pick('WWW.Foo.COM'), 'exact');
    assert.equal(pick('mixed.example'), 'exact');
  });

  it('wildcards do not match the empty string', () => {
    // '*.foo.com' must not match '.foo.com'; '*.com' still does (it is longer than '.com').
    assert.equal(pick('.foo.com'), 'suffix-short');
    assert.equal(pick('foo.'), 'any');
  });

  it('matches the port as part of the host, as Envoy does by default', () => {
    assert.equal(pick('www.foo.com:80'), 'any');
    assert.equal(pick('api.foo.com:8080'), 'with-port');
    assert.equal(pick('api.foo.com'), 'suffix-long');
    // A prefix wildcard covers whatever follows, port included.
    assert.equal(pick('foo.org:443'), 'prefix-short');
  });

  it('ignore_port_in_host_matching strips the port before matching', () => {
    const t = ok({ name: 'rc', ignore_port_in_host_matching: true, virtual_hosts: [{ name: 'x', domains: ['www.foo.com', '::1'], routes: [] }] });
    assert.equal(selectVirtualHost(t, 'www.foo.com:8443')?.name, 'x');
    assert.equal(selectVirtualHost(t, 'www.foo.com')?.name, 'x');
    assert.equal(selectVirtualHost(t, 'other:80'), undefined);
  });

  it('stripHostPort handles IPv6 literals and non-numeric ports', () => {
    assert.equal(stripHostPort('a.com:80'), 'a.com');
    assert.equal(stripHostPort('[::1]:443'), '[::1]');
    assert.equal(stripHostPort('[::1]'), '[::1]');
    assert.equal(stripHostPort('::1'), '::1');
    assert.equal(stripHostPort('a.com:x'), 'a.com:x');
  });

  it('returns undefined when nothing matches', () => {
    const t = ok({ name: 'rc', virtual_hosts: [{ name: 'x', domains: ['x.com'], routes: [] }] });
    assert.equal(selectVirtualHost(t, 'y.com'), undefined);
  });

  it('rejects duplicate domains and empty domain lists', () => {
    const errs = errors({
      name: 'rc',
      virtual_hosts: [
        { name: 'a', domains: ['A.com'], routes: [] },
        { name: 'b', domains: ['a.com'], routes: [] },
        { name: 'c', domains: [], routes: [] },
      ],
    });
    assert.deepEqual(errs, [
      'route_config.virtual_hosts[2].domains: must have at least one domain',
      'route_config.virtual_hosts[1].domains[0]: duplicate domain "a.com" (also in virtual host "a")',
    ]);
  });
});

describe('route matching', () => {
  it('uses the first matching route in order', () => {
    const t = ok(routes(to('root', { prefix: '/' }), to('api', { prefix: '/api' })));
    assert.equal(routed(t, head('/api/x')), 'root');
  });

  it('prefix, path and path_separated_prefix ignore the query string', () => {
    const t = ok(routes(
      to('exact', { path: '/exact' }),
      to('sep', { path_separated_prefix: '/api' }),
      to('pre', { prefix: '/p' }),
    ));
    assert.equal(routed(t, head('/exact?x=1')), 'exact');
    assert.equal(routed(t, head('/exact/')), undefined);
    assert.equal(routed(t, head('/api')), 'sep');
    assert.equal(routed(t, head('/api/v1')), 'sep');
    assert.equal(routed(t, head('/api?q')), 'sep');
    assert.equal(routed(t, head('/apix')), undefined);
    assert.equal(routed(t, head('/px')), 'pre');
    // The query is not part of the path: '/?p' does not match prefix '/p'.
    assert.equal(routed(t, head('/?p')), undefined);
  });

  it('safe_regex is a full match on the path without query', () => {
    const t = ok(routes(to('re', { safe_regex: { regex: '/users/\\d+' } })));
    assert.equal(routed(t, head('/users/42')), 're');
    assert.equal(routed(t, head('/users/42?x=y')), 're');
    assert.equal(routed(t, head('/users/42/x')), undefined);
    assert.equal(routed(t, head('/v/users/42')), undefined);
  });

  it('case_sensitive: false applies to prefix and path but not to safe_regex', () => {
    const t = ok(routes(
      to('p', { prefix: '/Foo', case_sensitive: false }),
      to('x', { path: '/BAR', case_sensitive: false }),
      to('r', { safe_regex: { regex: '/baz' }, case_sensitive: false }),
    ));
    assert.equal(routed(t, head('/fOO/1')), 'p');
    assert.equal(routed(t, head('/bar')), 'x');
    assert.equal(routed(t, head('/baz')), 'r');
    assert.equal(routed(t, head('/BAZ')), undefined);
    const cs = ok(routes(to('p', { prefix: '/Foo' })));
    assert.equal(routed(cs, head('/foo')), undefined);
  });

  it('header matchers: string_match kinds, legacy fields, present, range', () => {
    const m = (headers: Canon[]) => ok(routes(to('r', { prefix: '/', headers })));
    const cases: [Canon, [string, string][], boolean][] = [
      [{ name: 'x', string_match: { exact: 'v' } }, [['x', 'v']], true],
      [{ name: 'x', string_match: { exact: 'v' } }, [['x', 'V']], false],
      [{ name: 'x', string_match: { exact: 'v', ignore_case: true } }, [['x', 'V']], true],
      [{ name: 'x', string_match: { prefix: 'ab' } }, [['x', 'abc']], true],
      [{ name: 'x', string_match: { suffix: 'bc' } }, [['x', 'abc']], true],
      [{ name: 'x', string_match: { suffix: 'BC', ignore_case: true } }, [['x', 'abc']], true],
      [{ name: 'x', string_match: { contains: 'b' } }, [['x', 'abc']], true],
      [{ name: 'x', string_match: { contains: 'z' } }, [['x', 'abc']], false],
      [{ name: 'x', string_match: { safe_regex: { regex: 'a.c' } } }, [['x', 'abc']], true],
      [{ name: 'x', string_match: { safe_regex: { regex: 'b' } } }, [['x', 'abc']], false],
      [{ name: 'x', exact_match: 'v' }, [['x', 'v']], true],
      [{ name: 'x', prefix_match: 'a' }, [['x', 'b']], false],
      [{ name: 'x', safe_regex_match: { regex: '\\d{3}' } }, [['x', '123']], true],
      [{ name: 'X-Up' }, [['x-up', 'anything']], true],
      [{ name: 'x' }, [], false],
      [{ name: 'x', present_match: true }, [['x', '']], true],
      [{ name: 'x', present_match: true }, [], false],
      [{ name: 'x', present_match: false }, [], true],
      [{ name: 'x', present_match: false }, [['x', '1']], false],
      [{ name: 'x', range_match: { start: -10, end: 0 } }, [['x', '-1']], true],
      [{ name: 'x', range_match: { start: -10, end: 0 } }, [['x', '0']], false],
      [{ name: 'x', range_match: { start: 0, end: 10 } }, [['x', '5a']], false],
      // Repeated headers are matched as one value joined with ','.
      [{ name: 'x', string_match: { exact: 'a,b' } }, [['x', 'a'], ['x', 'b']], true],
      // Pseudo-headers come from the request head.
      [{ name: ':method', string_match: { exact: 'GET' } }, [], true],
      [{ name: ':authority', string_match: { exact: 'a.com' } }, [], true],
    ];
    for (const [hm, hdrs, want] of cases) {
      assert.equal(routed(m([hm]), head('/', hdrs)) === 'r', want, JSON.stringify({ hm, hdrs }));
    }
  });

  it('invert_match and treat_missing_header_as_empty follow Envoy', () => {
    const m = (hm: Canon) => ok(routes(to('r', { prefix: '/', headers: [hm] })));
    const r = (hm: Canon, hdrs: [string, string][]) => routed(m(hm), head('/', hdrs)) === 'r';
    // \d{3} does not match 1234, so it matches when inverted (the doc's example).
    assert.equal(r({ name: 'x', safe_regex_match: { regex: '\\d{3}' }, invert_match: true }, [['x', '1234']]), true);
    assert.equal(r({ name: 'x', range_match: { start: -10, end: 0 }, invert_match: true }, [['x', '-1']]), false);
    // An absent header never matches a value matcher, inverted or not.
    assert.equal(r({ name: 'x', string_match: { exact: 'v' }, invert_match: true }, []), false);
    // ... unless treated as empty.
    assert.equal(r({ name: 'x', string_match: { exact: 'v' }, invert_match: true, treat_missing_header_as_empty: true }, []), true);
    assert.equal(r({ name: 'x', string_match: { exact: '' }, treat_missing_header_as_empty: true }, []), true);
    // present_match inverted: absent header + present_match: true + invert → match.
    assert.equal(r({ name: 'x', present_match: true, invert_match: true }, []), true);
    assert.equal(r({ name: 'x', present_match: true, invert_match: true }, [['x', '1']]), false);
  });

  it('query parameter matchers (decoded, first value, present_match)', () => {
    const t = ok(routes(
      to('s', { prefix: '/', query_parameters: [{ name: 'q', string_match: { exact: 'a b' } }] }),
      to('p', { prefix: '/', query_parameters: [{ name: 'p', present_match: true }] }),
      to('n', { prefix: '/', query_parameters: [{ name: 'n', present_match: false }] }),
      to('fallback', { prefix: '/' }),
    ));
    assert.equal(routed(t, head('/x?q=a%20b')), 's');
    assert.equal(routed(t, head('/x?q=a%20b&q=zzz')), 's');
    assert.equal(routed(t, head('/x?q=zzz&q=a%20b')), 'fallback');
    assert.equal(routed(t, head('/x?p')), 'p');
    assert.equal(routed(t, head('/x?p=1#frag')), 'p');
    assert.equal(routed(t, head('/x#?p=1')), 'fallback');
    assert.equal(routed(t, head('/x?n=1')), 'fallback');
    assert.equal(routed(t, head('/x')), 'fallback');
    assert.equal(t.virtualHosts[0].needsQuery, true);
  });

  it('grpc: only gRPC content-types match', () => {
    const t = ok(routes(to('g', { prefix: '/', grpc: {} }), to('other', { prefix: '/' })));
    assert.equal(routed(t, head('/svc/M', [['content-type', 'application/grpc']])), 'g');
    assert.equal(routed(t, head('/svc/M', [['content-type', 'application/grpc+proto']])), 'g');
    assert.equal(routed(t, head('/svc/M', [['content-type', 'application/grpc-web']])), 'other');
    assert.equal(routed(t, head('/svc/M', [['content-type', 'application/json']])), 'other');
    assert.equal(routed(t, head('/svc/M')), 'other');
  });
});

describe('RE2 translation', () => {
  const full = (re: string, s: string) => {
    const r = compileRe2(re, 'full');
    if (typeof r === 'string') throw new Error(r);
    return r.test(s);
  };
  it('translates RE2-only syntax', () => {
    assert.equal(full('(?i)abc', 'ABC'), true);
    assert.equal(full('(?P<id>\\d+)-x', '12-x'), true);
    assert.equal(full('\\Aab\\z', 'ab'), true);
    assert.equal(full('[[:alpha:]]+[[:digit:]]', 'abc1'), true);
    assert.equal(full('a\\-b\\#', 'a-b#'), true);
    assert.equal(full('\\x{41}\\pL', 'AB'), true);
    assert.equal(full('[]a]+', ']a]'), true);
    assert.equal(full('a{,b}', 'a{,b}'), true);
    assert.equal(full('\\Q.*\\E', '.*'), true);
    assert.equal(full('\\Q.*\\E', 'ab'), false);
  });
  it('. does not match \\n unless (?s), but matches \\r', () => {
    assert.equal(full('a.b', 'a\nb'), false);
    assert.equal(full('a.b', 'a\rb'), true);
    assert.equal(full('(?s)a.b', 'a\nb'), true);
  });
  it('rejects what RE2 rejects and what JS cannot express', () => {
    for (const bad of ['a(?=b)', '(a)\\1', '(?<!x)y', 'a(?i)b', '(?U)a', 'a{1001}', '[a', '\\C', '\\Z']) {
      assert.equal(typeof compileRe2(bad, 'full'), 'string', bad);
    }
  });
  it('an invalid regex in a route is reported with its field path', () => {
    const errs = errors(routes(to('r', { safe_regex: { regex: '(a' } }), to('s', { prefix: '/', headers: [{ name: 'x', safe_regex_match: { regex: 'a(?=b)' } }] })));
    assert.equal(errs.length, 2);
    assert.match(errs[0], /^route_config\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex "\(a"/);
    assert.match(errs[1], /^route_config\.virtual_hosts\[0\]\.routes\[1\]\.match\.headers\[0\]\.safe_regex_match\.regex: .*lookaround/);
  });
});

describe('decode errors', () => {
  it('rejects fields switchyard does not implement, naming each', () => {
    const errs = errors({
      name: 'rc',
      vhds: {},
      virtual_hosts: [{
        name: 'v', domains: ['*'], cors: {}, routes: [
          { match: { prefix: '/', runtime_fraction: {} }, route: { cluster: 'c', request_mirror_policies: [{}] }, typed_per_filter_config: {} },
          { match: { prefix: '/' }, filter_action: {} },
        ],
      }],
    });
    assert.deepEqual(errs.sort(), [
      'route_config.vhds: not supported by switchyard',
      'route_config.virtual_hosts[0].cors: not supported by switchyard',
      'route_config.virtual_hosts[0].routes[0].match.runtime_fraction: not supported by switchyard',
      'route_config.virtual_hosts[0].routes[0].route.request_mirror_policies: not supported by switchyard',
      'route_config.virtual_hosts[0].routes[0].typed_per_filter_config: not supported by switchyard',
      'route_config.virtual_hosts[0].routes[1].filter_action: not supported by switchyard',
    ].sort());
  });

  it('weights must sum to total_weight and be positive', () => {
    const wc = (clusters: Canon[], total?: number) =>
      errors(routes({ match: { prefix: '/' }, route: { weighted_clusters: { clusters, ...(total ? { total_weight: total } : {}) } } }));
    assert.deepEqual(wc([{ name: 'a', weight: 30 }, { name: 'b', weight: 60 }], 100), [
      'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.total_weight: sum of weights (90) must equal total_weight (100)',
    ]);
    assert.deepEqual(wc([{ name: 'a', weight: 0 }]), [
      'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters: sum of weights must be greater than 0',
    ]);
    assert.deepEqual(wc([{ name: 'a', weight: 30 }, { name: 'b', weight: 70 }], 100), []);
  });

  it('requires a match and an action; rejects conflicting oneof fields and bad header mutations', () => {
    const errs = errors(routes(
      { name: 'no-action', match: { prefix: '/' } },
      { name: 'no-match', route: { cluster: 'c' } },
      { match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/a', regex_rewrite: { pattern: { regex: 'x' }, substitution: 'y' } } },
      {
        match: { prefix: '/' }, direct_response: { status: 200 },
        request_headers_to_add: [{ header: { key: ':path', value: '/x' } }, { header: { key: 'x', value: '%FOO%' } }, { header: { key: 'y', value: '1' }, append: true, append_action: 'ADD_IF_ABSENT' }],
        response_headers_to_remove: ['host'],
      },
    ));
    const rp = 'route_config.virtual_hosts[0].routes';
    assert.deepEqual(errs, [
      `${rp}[0]: one of route, redirect, direct_response, filter_action, non_forwarding_action is required`,
      `${rp}[1].match: is required`,
      `${rp}[1].match: one of prefix, path, safe_regex, path_separated_prefix, connect_matcher, path_match_policy is required`,
      `${rp}[2].route: only one of prefix_rewrite, regex_rewrite may be set`,
      `${rp}[3].request_headers_to_add[0].header.key: :-prefixed or host headers may not be modified`,
      `${rp}[3].request_headers_to_add[1].header.value: header value format command %FOO% is not supported by switchyard`,
      `${rp}[3].request_headers_to_add[2]: only one of append, append_action may be set`,
      `${rp}[3].response_headers_to_remove[0]: :-prefixed or host headers may not be modified`,
    ]);
  });

  it('direct_response bodies are limited by max_direct_response_body_size_bytes', () => {
    const big = { name: 'rc', max_direct_response_body_size_bytes: 4, virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'hello' } } }] }] };
    assert.deepEqual(errors(big), ['route_config.virtual_hosts[0].routes[0].direct_response.body: response body size is 5 bytes; maximum is 4 (max_direct_response_body_size_bytes)']);
    const t = ok({ ...big, max_direct_response_body_size_bytes: 5 });
    const a = t.virtualHosts[0].routes[0].action;
    assert.equal(a.t, 'direct_response');
    assert.equal(a.t === 'direct_response' && a.body?.toString(), 'hello');
  });

  it('route defaults: timeout 15s, 0 disables; idle_timeout unset', () => {
    const t = ok(routes(to('a', { prefix: '/a' }), to('b', { prefix: '/b' }, { timeout: {}, idle_timeout: { seconds: 2, nanos: 500_000_000 } })));
    const [a, b] = t.virtualHosts[0].routes.map((r) => r.action as RouteAction);
    assert.equal(a.timeoutMs, 15000);
    assert.equal(a.idleTimeoutMs, undefined);
    assert.equal(b.timeoutMs, 0);
    assert.equal(b.idleTimeoutMs, 2500);
  });
});

describe('rewrites', () => {
  const action = (t: RouteTable, i = 0) => t.virtualHosts[0].routes[i].action as RouteAction;

  it('prefix_rewrite swaps the matched prefix, or the whole path for path / safe_regex routes, keeping the query', () => {
    const t = ok(routes(
      to('a', { prefix: '/api/' }, { prefix_rewrite: '/v2/' }),
      to('b', { path: '/exact' }, { prefix_rewrite: '/other' }),
      to('c', { safe_regex: { regex: '/r/.*' } }, { prefix_rewrite: '/x' }),
      to('d', { prefix: '/keep' }),
    ));
    assert.equal(rewritePath(action(t, 0), '/api/users?id=1'), '/v2/users?id=1');
    assert.equal(rewritePath(action(t, 1), '/exact?q'), '/other?q');
    assert.equal(rewritePath(action(t, 2), '/r/abc?z=1'), '/x?z=1');
    assert.equal(rewritePath(action(t, 3), '/keep'), undefined);
  });

  it('regex_rewrite substitutes every match in the path with RE2 group syntax', () => {
    const t = ok(routes(to('a', { prefix: '/' }, { regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } }),
      to('b', { prefix: '/' }, { regex_rewrite: { pattern: { regex: 'one' }, substitution: 'two' } })));
    assert.equal(rewritePath(action(t, 0), '/service/foo/v1/api?x=one'), '/v1/api/instance/foo?x=one');
    assert.equal(rewritePath(action(t, 1), '/one/one?one'), '/two/two?one');
    assert.deepEqual(errors(routes(to('a', { prefix: '/' }, { regex_rewrite: { pattern: { regex: '(a)' }, substitution: '\\2' } }))), [
      'route_config.virtual_hosts[0].routes[0].route.regex_rewrite.substitution: refers to group \\2 but the pattern has 1 group(s)',
    ]);
  });

  it('host rewrite: literal, from a header (when present), auto with the upstream hostname', () => {
    const t = ok(routes(
      to('lit', { prefix: '/' }, { host_rewrite_literal: 'new.host' }),
      to('hdr', { prefix: '/' }, { host_rewrite_header: 'X-Host' }),
      to('auto', { prefix: '/' }, { auto_host_rewrite: true }),
    ));
    assert.equal(rewriteHost(action(t, 0), head('/')), 'new.host');
    assert.equal(rewriteHost(action(t, 1), head('/', [['x-host', 'h.example']])), 'h.example');
    assert.equal(rewriteHost(action(t, 1), head('/')), undefined);
    assert.equal(rewriteHost(action(t, 2), head('/'), undefined, 'backend.internal'), 'backend.internal');
    assert.equal(rewriteHost(action(t, 2), head('/')), undefined);
  });
});

describe('redirects', () => {
  const redirect = (rd: Canon, match: Canon = { prefix: '/' }) => {
    const t = ok(routes({ match, redirect: rd }));
    return t.virtualHosts[0].routes[0].action as RedirectAction;
  };
  const at = (authority: string, path: string, scheme: 'http' | 'https' = 'http') => ({ ...head(path, [], authority), scheme });

  it('https_redirect keeps the path and query and drops the old default port', () => {
    const rd = redirect({ https_redirect: true });
    assert.equal(rd.responseCode, 301);
    assert.equal(redirectLocation(rd, at('a.com', '/x?y=1')), 'https://a.com/x?y=1');
    assert.equal(redirectLocation(rd, at('a.com:80', '/x')), 'https://a.com/x');
    assert.equal(redirectLocation(rd, at('a.com:8080', '/x')), 'https://a.com:8080/x');
  });

  it('host, port, path and strip_query; response codes', () => {
    assert.equal(redirectLocation(redirect({ host_redirect: 'b.com', port_redirect: 8443, scheme_redirect: 'HTTPS' }), at('a.com:80', '/p')), 'https://b.com:8443/p');
    assert.equal(redirectLocation(redirect({ port_redirect: 9000 }), at('a.com:80', '/p')), 'http://a.com:9000/p');
    assert.equal(redirectLocation(redirect({ path_redirect: '/new' }), at('a.com', '/old?q=1')), 'http://a.com/new?q=1');
    assert.equal(redirectLocation(redirect({ path_redirect: '/new?z=2', strip_query: true }), at('a.com', '/old?q=1')), 'http://a.com/new?z=2');
    assert.equal(redirectLocation(redirect({ path_redirect: '/new', strip_query: true }), at('a.com', '/old?q=1')), 'http://a.com/new');
    assert.equal(redirectLocation(redirect({ strip_query: true }), at('a.com', '/old?q=1')), 'http://a.com/old');
    assert.equal(redirectLocation(redirect({ prefix_rewrite: '/v2/' }, { prefix: '/v1/' }), at('a.com', '/v1/x?q')), 'http://a.com/v2/x?q');
    assert.equal(redirectLocation(redirect({ regex_rewrite: { pattern: { regex: '/(\\w+)$' }, substitution: '/\\1/' } }), at('a.com', '/a/b')), 'http://a.com/a/b/');
    const codes: [string, number][] = [['FOUND', 302], ['SEE_OTHER', 303], ['TEMPORARY_REDIRECT', 307], ['PERMANENT_REDIRECT', 308]];
    for (const [name, code] of codes) assert.equal(redirect({ response_code: name }).responseCode, code);
  });
});

describe('header mutations', () => {
  const ctx = (h: RequestHead, extra: Partial<FormatContext> = {}): FormatContext => ({
    head: h, remoteAddress: '10.0.0.1', remotePort: 5555, localAddress: '10.0.0.2', localPort: 80, startTimeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678), ...extra,
  });
  const hv = (key: string, value: string, more: Canon = {}) => ({ header: { key, value }, ...more });
  const levels = (overwrite: boolean, mostSpecificWins = false) => {
    const action = overwrite ? { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } : {};
    return ok({
      name: 'rc',
      most_specific_header_mutations_wins: mostSpecificWins,
      request_headers_to_add: [hv('x-level', 'config', action)],
      response_headers_to_add: [hv('x-level', 'config', action)],
      virtual_hosts: [{
        name: 'v', domains: ['*'],
        request_headers_to_add: [hv('x-level', 'vhost', action)],
        routes: [{
          match: { prefix: '/' }, route: { cluster: 'c' },
          request_headers_to_add: [hv('x-level', 'route', action)],
          response_headers_to_add: [hv('x-level', 'route', action)],
        }],
      }],
    });
  };

  it('applies route, then virtual host, then route configuration (so the route configuration wins)', () => {
    const h = head('/');
    const r = levels(false).virtualHosts[0].routes[0];
    applyRequestHeaderMutations(h.headers, r.requestChain, ctx(h));
    assert.deepEqual(h.headers.values, ['route', 'vhost', 'config']);
    const h2 = head('/');
    applyRequestHeaderMutations(h2.headers, levels(true).virtualHosts[0].routes[0].requestChain, ctx(h2));
    assert.deepEqual(h2.headers.toObject(), { 'x-level': 'config' });
  });

  it('most_specific_header_mutations_wins reverses the order', () => {
    const h = head('/');
    applyRequestHeaderMutations(h.headers, levels(true, true).virtualHosts[0].routes[0].requestChain, ctx(h));
    assert.deepEqual(h.headers.toObject(), { 'x-level': 'route' });
    const resp = new HeaderMap();
    applyResponseHeaderMutations(resp, levels(false, true).virtualHosts[0].routes[0].responseChain, ctx(h));
    assert.deepEqual(resp.values, ['config', 'route']);
  });

  it('append_action semantics and the legacy append flag', () => {
    const t = ok(routes({
      match: { prefix: '/' }, route: { cluster: 'c' },
      request_headers_to_add: [
        hv('a', '2'),
        hv('b', '2', { append_action: 'ADD_IF_ABSENT' }),
        hv('c', '2', { append_action: 'ADD_IF_ABSENT' }),
        hv('d', '2', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }),
        hv('e', '2', { append_action: 'OVERWRITE_IF_EXISTS' }),
        hv('f', '2', { append_action: 'OVERWRITE_IF_EXISTS' }),
        hv('g', '2', { append: false }),
      ],
    }));
    const h = head('/', [['a', '1'], ['b', '1'], ['d', '1'], ['d', '1b'], ['e', '1'], ['g', '1']]);
    applyRequestHeaderMutations(h.headers, t.virtualHosts[0].routes[0].requestChain, ctx(h));
    assert.deepEqual(h.headers.toObject(), { a: '1, 2', b: '1', c: '2', d: '2', e: '2', g: '2' });
  });

  it('removes before adding within a level; skips empty values unless keep_empty_value', () => {
    const t = ok(routes({
      match: { prefix: '/' }, route: { cluster: 'c' },
      request_headers_to_remove: ['X-Drop'],
      request_headers_to_add: [hv('x-drop', 'new'), hv('x-empty', '%REQ(x-missing)%'), hv('x-kept', '%REQ(x-missing)%', { keep_empty_value: true })],
    }));
    const h = head('/', [['x-drop', 'old'], ['x-other', 'o']]);
    applyRequestHeaderMutations(h.headers, t.virtualHosts[0].routes[0].requestChain, ctx(h));
    assert.deepEqual(h.headers.toObject(), { 'x-other': 'o', 'x-drop': 'new', 'x-kept': '' });
  });

  it('evaluates format specifiers precompiled at config time', () => {
    const t = ok(routes({
      match: { prefix: '/' }, route: { cluster: 'c' },
      request_headers_to_add: [
        hv('x-client', '%DOWNSTREAM_REMOTE_ADDRESS%'),
        hv('x-client-ip', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'),
        hv('x-up', '%UPSTREAM_REMOTE_ADDRESS%'),
        hv('x-proto', 'proto=%PROTOCOL% 100%%'),
        hv('x-copy', '%REQ(X-In)%/%REQ(:path)%/%REQ(x-none?x-in)%/%REQ(x-in):2%'),
        hv('x-start', '%START_TIME%'),
        hv('x-start2', '%START_TIME(%Y/%m/%d %H:%M:%S.%3f %s)%'),
      ],
    }));
    const chain = t.virtualHosts[0].routes[0].requestChain;
    const lit = (t.virtualHosts[0].routes[0].requestHeadersToAdd[3].value);
    assert.equal(lit.literal, undefined);
    const h = head('/p?q', [['x-in', 'abc']], 'a.com', 'POST');
    applyRequestHeaderMutations(h.headers, chain, ctx(h, { upstreamAddress: '10.1.1.1:8080' }));
    assert.deepEqual(h.headers.toObject(), {
      'x-in': 'abc',
      'x-client': '10.0.0.1:5555',
      'x-client-ip': '10.0.0.1',
      'x-up': '10.1.1.1:8080',
      'x-proto': 'proto=HTTP/1.1 100%',
      'x-copy': 'abc//p?q/abc/ab',
      'x-start': '2024-01-02T03:04:05.678Z',
      'x-start2': `2024/01/02 03:04:05.678 ${Math.floor(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000)}`,
    });
    const v6 = head('/');
    applyRequestHeaderMutations(v6.headers, chain.slice(0, 1), ctx(v6, { remoteAddress: '::1' }));
    assert.equal(v6.headers.get('x-client'), '[::1]:5555');
  });

  it('rejects malformed format strings', () => {
    const errs = errors(routes({ match: { prefix: '/' }, direct_response: { status: 200 }, response_headers_to_add: [hv('x', '50%'), hv('y', '%DOWNSTREAM_REMOTE_ADDRESS(x)%')] }));
    assert.equal(errs.length, 2);
    assert.match(errs[0], /response_headers_to_add\[0\]\.header\.value: invalid header value format/);
    assert.match(errs[1], /response_headers_to_add\[1\]\.header\.value: %DOWNSTREAM_REMOTE_ADDRESS% takes no argument/);
  });
});

describe('weighted clusters', () => {
  // A seeded PRNG, so the distribution test is reproducible.
  const seeded = seededRandom;
  const table = ok(routes({
    match: { prefix: '/' },
    request_headers_to_add: [{ header: { key: 'x-route', value: 'r' } }],
    route: { weighted_clusters: { clusters: [
      { name: 'a', weight: 10, request_headers_to_add: [{ header: { key: 'x-wc', value: 'a' } }], host_rewrite_literal: 'a.internal' },
      { name: 'zero', weight: 0 },
      { name: 'b', weight: 30 },
      { name: 'c', weight: 60 },
    ] } },
  }));
  const route: Route = table.virtualHosts[0].routes[0];
  const spec = (route.action as RouteAction).clusterSpecifier;
  assert.equal(spec.t, 'weighted');
  const ws = spec as Extract<typeof spec, { t: 'weighted' }>;

  it('picks by cumulative weight in config order', () => {
    assert.equal(ws.totalWeight, 100);
    assert.equal(pickWeightedCluster(ws, 0).name, 'a');
    assert.equal(pickWeightedCluster(ws, 0.0999).name, 'a');
    assert.equal(pickWeightedCluster(ws, 0.1).name, 'b');
    assert.equal(pickWeightedCluster(ws, 0.3999).name, 'b');
    assert.equal(pickWeightedCluster(ws, 0.4).name, 'c');
    assert.equal(pickWeightedCluster(ws, 0.99999).name, 'c');
  });

  it('distributes as the weights say and never picks a zero weight', () => {
    const rnd = seeded(42);
    const counts: Record<string, number> = { a: 0, zero: 0, b: 0, c: 0 };
    const n = 20000;
    for (let i = 0; i < n; i++) counts[pickWeightedCluster(ws, rnd()).name]++;
    assert.equal(counts.zero, 0);
    for (const [name, w] of [['a', 0.1], ['b', 0.3], ['c', 0.6]] as const) {
      assert.ok(Math.abs(counts[name] / n - w) < 0.02, `${name}: ${counts[name]}`);
    }
  });

  it('the picked cluster carries its own header mutations (first) and host rewrite', () => {
    const a = ws.weightedClusters[0];
    const h = head('/');
    applyRequestHeaderMutations(h.headers, a.requestChain, { head: h, remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0, startTimeMs: 0 });
    assert.deepEqual(h.headers.names, ['x-wc', 'x-route']);
    assert.equal(rewriteHost(route.action as RouteAction, h, a), 'a.internal');
    assert.equal(rewriteHost(route.action as RouteAction, h, ws.weightedClusters[2]), undefined);
  });
});
