// The http_connection_manager decoder, fed the way a bootstrap feeds it: a YAML
// typed_config → proto3 JSON mapping (src/xds/proto/json.ts) → canonical form → the
// registered network extension.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as yaml from 'js-yaml';
import { ConfigIssues } from '../../src/config/issues';
import '../../src/filters/network/http_connection_manager/config';
import { HCM_TYPE_URL, type HcmConfig } from '../../src/filters/network/http_connection_manager/config';
import type { RouterConfig } from '../../src/filters/http/router/config';
import { findExtension } from '../../src/filters/registry';
import { HeaderMap } from '../../src/http/headers';
import { matchRoute, selectVirtualHost } from '../../src/routing/match';
import type { RouteAction } from '../../src/routing/types';
import { fromJson } from '../../src/xds/proto/json';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function decode(src: string): { cfg: HcmConfig; issues: string[] } {
  const issues = new ConfigIssues();
  const any = yaml.load(src) as Record<string, unknown>;
  assert.equal(any['@type'], HCM_TYPE_URL);
  const { ['@type']: _t, ...rest } = any;
  const canon = fromJson(rest, HCM, issues, 'typed_config');
  assert.equal(issues.list.length, 0, 'proto JSON decoding: ' + issues.format());
  const ext = findExtension('network', HCM_TYPE_URL);
  assert.ok(ext, 'HCM is registered');
  assert.equal(ext.wellKnownName, 'envoy.filters.network.http_connection_manager');
  const cfg = ext.decode(canon!, 'typed_config', issues) as HcmConfig;
  return { cfg, issues: issues.list.map((i) => `${i.path}: ${i.message}`) };
}

const ROUTER = `
  - name: envoy.filters.http.router
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`;

const FULL = `
"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
stat_prefix: ingress_http
codec_type: HTTP1
use_remote_address: true
xff_num_trusted_hops: 1
skip_xff_append: false
via: switchyard
server_name: edge
server_header_transformation: APPEND_IF_ABSENT
generate_request_id: false
preserve_external_request_id: true
stream_idle_timeout: 30s
request_timeout: 60s
request_headers_timeout: 5s
max_request_headers_kb: 96
drain_timeout: 2.5s
delayed_close_timeout: 0s
normalize_path: true
merge_slashes: true
path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT
strip_any_host_port: true
forward_client_cert_details: APPEND_FORWARD
set_current_client_cert_details: { uri: true, subject: true }
append_x_forwarded_port: true
common_http_protocol_options:
  idle_timeout: 120s
  max_connection_duration: 600s
  headers_with_underscores_action: REJECT_REQUEST
http_protocol_options:
  accept_http_10: true
http2_protocol_options:
  max_concurrent_streams: 100
upgrade_configs:
  - upgrade_type: websocket
route_config:
  name: local_route
  virtual_hosts:
    - name: backend
      domains: ["*.example.com", "example.com"]
      routes:
        - match: { prefix: "/api/" }
          route:
            cluster: api
            prefix_rewrite: /
            timeout: 2s
        - match: { prefix: "/" }
          route: { cluster: web }
http_filters:
  - name: envoy.filters.http.router
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      suppress_envoy_headers: true
`;

describe('http_connection_manager config', () => {
  it('decodes a full typed_config from YAML', () => {
    const { cfg, issues } = decode(FULL);
    assert.deepEqual(issues, []);
    assert.equal(cfg.statPrefix, 'ingress_http');
    assert.equal(cfg.codecType, 'HTTP1');
    assert.equal(cfg.useRemoteAddress, true);
    assert.equal(cfg.xffNumTrustedHops, 1);
    assert.equal(cfg.via, 'switchyard');
    assert.equal(cfg.serverName, 'edge');
    assert.equal(cfg.serverHeaderTransformation, 'APPEND_IF_ABSENT');
    assert.equal(cfg.generateRequestId, false);
    assert.equal(cfg.preserveExternalRequestId, true);
    assert.equal(cfg.streamIdleTimeoutMs, 30_000);
    assert.equal(cfg.requestTimeoutMs, 60_000);
    assert.equal(cfg.requestHeadersTimeoutMs, 5000);
    assert.equal(cfg.maxRequestHeadersKb, 96);
    assert.equal(cfg.drainTimeoutMs, 2500);
    assert.equal(cfg.delayedCloseTimeoutMs, 0);
    assert.equal(cfg.normalizePath, true);
    assert.equal(cfg.mergeSlashes, true);
    assert.equal(cfg.pathWithEscapedSlashesAction, 'UNESCAPE_AND_REDIRECT');
    assert.equal(cfg.stripPortMode, 'any');
    assert.equal(cfg.forwardClientCertDetails, 'APPEND_FORWARD');
    assert.deepEqual(cfg.setCurrentClientCertDetails, { subject: true, cert: false, chain: false, dns: false, uri: true });
    assert.equal(cfg.appendXForwardedPort, true);
    assert.equal(cfg.idleTimeoutMs, 120_000);
    assert.equal(cfg.maxConnectionDurationMs, 600_000);
    assert.equal(cfg.headersWithUnderscoresAction, 'REJECT_REQUEST');
    assert.equal(cfg.http1.acceptHttp10, true);
    assert.equal(cfg.http2ProtocolOptions?.max_concurrent_streams, 100);
    assert.deepEqual(cfg.upgradeConfigs, [{ upgradeType: 'websocket', enabled: true }]);
    assert.deepEqual(cfg.accessLog, []);

    assert.equal(cfg.httpFilters.length, 1);
    assert.equal(cfg.httpFilters[0].name, 'envoy.filters.http.router');
    assert.deepEqual(cfg.httpFilters[0].config as RouterConfig, { suppressEnvoyHeaders: true, startChildSpan: false });

    const t = cfg.routeTable!;
    assert.equal(t.name, 'local_route');
    const vh = selectVirtualHost(t, 'www.example.com');
    assert.equal(vh?.name, 'backend');
    const head = { method: 'GET', path: '/api/x', authority: 'example.com', scheme: 'http' as const, protocol: 'HTTP/1.1' as const, headers: new HeaderMap() };
    const a = matchRoute(vh!, head)?.action as RouteAction;
    assert.equal(a.timeoutMs, 2000);
    assert.deepEqual(a.clusterSpecifier, { t: 'cluster', cluster: 'api' });
    assert.equal(a.prefixRewrite, '/');
  });

  it('applies Envoy defaults', () => {
    const { cfg, issues } = decode(`
"@type": ${HCM_TYPE_URL}
stat_prefix: s
route_config: { virtual_hosts: [] }
http_filters:${ROUTER}
`);
    assert.deepEqual(issues, []);
    assert.equal(cfg.codecType, 'AUTO');
    assert.equal(cfg.serverName, 'envoy');
    assert.equal(cfg.serverHeaderTransformation, 'OVERWRITE');
    assert.equal(cfg.generateRequestId, true);
    assert.equal(cfg.useRemoteAddress, false);
    assert.equal(cfg.streamIdleTimeoutMs, 300_000);
    assert.equal(cfg.requestTimeoutMs, 0);
    assert.equal(cfg.requestHeadersTimeoutMs, 0);
    assert.equal(cfg.maxRequestHeadersKb, 60);
    assert.equal(cfg.idleTimeoutMs, 3_600_000);
    assert.equal(cfg.maxConnectionDurationMs, 0);
    assert.equal(cfg.drainTimeoutMs, 5000);
    assert.equal(cfg.delayedCloseTimeoutMs, 1000);
    assert.equal(cfg.normalizePath, false);
    assert.equal(cfg.mergeSlashes, false);
    assert.equal(cfg.stripPortMode, 'none');
    assert.equal(cfg.forwardClientCertDetails, 'SANITIZE');
    assert.equal(cfg.via, undefined);
  });

  it('accepts rds over ADS; rejects unsupported fields and bad filter chains, each with its path', () => {
    const { cfg, issues } = decode(`
"@type": ${HCM_TYPE_URL}
stat_prefix: s
codec_type: HTTP3
rds: { route_config_name: r, config_source: { ads: {} } }
tracing: {}
local_reply_config: {}
proxy_100_continue: true
access_log:
  - name: envoy.access_loggers.stdout
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
http_filters:${ROUTER}
  - name: envoy.filters.http.cors
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      dynamic_stats: false
`);
    assert.deepEqual(issues.sort(), [
      'typed_config.access_log: not supported by switchyard yet',
      'typed_config.proxy_100_continue: true is not supported by switchyard yet',
      'typed_config.codec_type: "HTTP3" not supported by switchyard',
      'typed_config.http_filters: envoy.filters.http.router must be the last HTTP filter (found "envoy.filters.http.router" before other filters)',
      'typed_config.http_filters[1].typed_config.dynamic_stats: not supported by switchyard',
      'typed_config.local_reply_config: not supported by switchyard',
      'typed_config.tracing: not supported by switchyard',
    ].sort());
    assert.deepEqual(cfg.rds, { routeConfigName: 'r' });
    assert.equal(cfg.routeTable, undefined);
  });

  it('an unknown filter type is an error unless is_optional; the router must be last', () => {
    const filters = (optional: boolean) => `
"@type": ${HCM_TYPE_URL}
stat_prefix: s
route_config: { virtual_hosts: [] }
http_filters:
  - name: envoy.filters.http.lua
    is_optional: ${optional}
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
      default_source_code: { inline_string: "x" }${ROUTER}
`;
    const req = decode(filters(false));
    assert.equal(req.issues.length, 1);
    assert.match(req.issues[0], /^typed_config\.http_filters\[0\]\.typed_config: unsupported typed_config @type "type\.googleapis\.com\/envoy\.extensions\.filters\.http\.lua\.v3\.Lua"/);
    const opt = decode(filters(true));
    assert.deepEqual(opt.issues, []);
    assert.deepEqual(opt.cfg.httpFilters.map((f) => [f.name, f.isOptional]), [['envoy.filters.http.router', false]]);

    const noRouter = decode(`
"@type": ${HCM_TYPE_URL}
stat_prefix: s
route_config: { virtual_hosts: [] }
`);
    assert.deepEqual(noRouter.issues, ['typed_config.http_filters: the last HTTP filter must be envoy.filters.http.router']);
  });

  it('reports route table problems under route_config', () => {
    const { issues } = decode(`
"@type": ${HCM_TYPE_URL}
stat_prefix: s
route_config:
  virtual_hosts:
    - name: v
      domains: ["*"]
      routes:
        - match: { safe_regex: { regex: "(unclosed" } }
          route: { cluster: c }
http_filters:${ROUTER}
`);
    assert.equal(issues.length, 1);
    assert.match(issues[0], /^typed_config\.route_config\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/);
  });
});
