// One request through the connection manager and the router: header sanitising, route
// selection, local replies, and the upstream exchange. A single object per request
// implements every callback interface involved (body sink, upstream sink, pool client),
// so the request path allocates one stream object rather than a closure per event.
import { originalSource } from '../../../upstream/source';
import { randomRequestId } from '../../../http/request_id';
import type { ConnectionInfo } from '../../../listeners/connection_info';
import type { HeaderMap } from '../../../http/headers';
import { HeaderMap as Headers } from '../../../http/headers';
import { localReplySpec, type LocalReplyCode } from '../../../http/local_reply';
import { normalizePath } from '../../../http/path';
import type { DownstreamStream, RequestBodySink, RequestHead, ResetReason, ResponseHead, UpstreamResponseSink, UpstreamStream } from '../../../http/stream';
import type { FormatContext } from '../../../routing/header_format';
import { applyRequestHeaderMutations as applyRequestMutations, applyResponseHeaderMutations as applyResponseMutations } from '../../../routing/header_mutation';
import { computeRequestHash, type HashInput } from '../../../routing/hash_policy';
import { matchRoute, selectVirtualHost } from '../../../routing/match';
import { pickWeightedCluster, redirectLocation, rewritePath } from '../../../routing/rewrite';
import type { HeaderMutations, Route, RouteAction } from '../../../routing/types';
import type { Cluster } from '../../../upstream/cluster';
import type { Host } from '../../../upstream/host';
import type { PoolClient, PoolRequest } from '../../../upstream/pool';
import { reportHttpOutcome } from '../../../upstream/outlier/report';
import type { HcmRuntime } from './runtime';
import { encodeGrpcMessage, formatGrpcTimeout, GRPC_DEADLINE_EXCEEDED, httpToGrpcStatus } from '../../../http/grpc';
import { computeRouterTimeouts } from './router_timeouts';
import { isGrpcContentType } from '../../../routing/match';
import { parseRetryOn } from '../../../routing/retry_policy';
import type { VirtualHost } from '../../../routing/types';
import type { PriorityResources, RoutingPriority } from '../../../upstream/circuit_breakers';
import { RetryState } from './retry_state';

const EMPTY = Buffer.alloc(0);
/** Body bytes held while no upstream stream exists yet, before the downstream is paused. */
const BUFFER_LIMIT = 1024 * 1024;
/**
 * How much request body is kept to replay on a retry: Envoy's default connection buffer
 * limit (per_connection_buffer_limit_bytes, 1 MiB). A body that grows past it is sent on
 * but never retried (Envoy counts retry_or_shadow_abandoned).
 */
const RETRY_BUFFER_LIMIT = 1024 * 1024;
/** x-envoy-* request headers Envoy honours only from internal (trusted) clients and strips otherwise. */
const TRUSTED_ONLY_HEADERS = [
  'x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-upstream-alt-stat-name', 'x-envoy-force-trace', 'x-envoy-ip-tags', 'x-envoy-hedge-on-per-try-timeout',
];

function onBackOffDone(s: ActiveStream): void {
  s.retryNow();
}

export class ActiveStream implements RequestBodySink, UpstreamResponseSink, PoolClient, FormatContext, HashInput {
  readonly head: RequestHead;
  readonly startTimeMs = Date.now();
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  upstreamAddress?: string;
  responseHeaders?: HeaderMap;
  /** Envoy response flags for the access log ('UF', 'NR', …). */
  responseFlags = '';
  responseCode = 0;
  /** Last time bytes moved either way (stream_idle_timeout). */
  lastActivityMs = this.startTimeMs;
  /** The stream idle timeout in force: the route's idle_timeout, else the connection manager's. */
  idleTimeoutMs: number;
  /** LbContext: the request's hash from the route's hash_policy (only for RING_HASH / MAGLEV clusters). */
  hashSet = false;
  hashHi = 0;
  hashLo = 0;
  /** Cookies a cookie hash policy generated, set on the response (Envoy's router does the same). */
  setCookies: string[] | null = null;

  /** HashInput: the connection's filter state (set_filter_state). */
  get filterState(): ReadonlyMap<string, string> | undefined {
    return this.ds.connectionInfo?.filterState;
  }

  /** LbContext: the downstream connection and the request's headers (ORIGINAL_DST clusters). */
  get connectionInfo(): ConnectionInfo | undefined {
    return this.ds.connectionInfo;
  }
  get requestHeaders(): HeaderMap {
    return this.head.headers;
  }

  private route: Route | null = null;
  private responseChain: HeaderMutations[] | null = null;
  private cluster: Cluster | null = null;
  private host: Host | null = null;
  private upstream: UpstreamStream | null = null;
  private poolReq: PoolRequest | null = null;
  /** The route timeout (ms), armed once the whole request has been received (Envoy). */
  private routeTimeoutMs = 0;
  /** When the route timeout fires (ms timestamp), 0 when not armed; checked by the sweeper. */
  routeDeadline = 0;
  /** max_stream_duration in force (ms, 0 = none): the route's, a gRPC request's grpc-timeout, else the connection manager's. */
  durationMs: number;
  /** When the current try's per_try_timeout fires (ms timestamp, 0 = not armed); checked by the sweeper. */
  tryDeadline = 0;
  /** The route's priority: whose circuit breakers apply (PoolClient.priority). */
  priority: RoutingPriority = 'DEFAULT';
  /** LbContext: > 0 while re-picking for a retry host predicate. */
  hostSelectionAttempt = 0;
  /** Links of the sweeper's list of active streams (timeouts.ts). */
  tPrev: ActiveStream | null = null;
  tNext: ActiveStream | null = null;
  tLinked = false;
  private buffered: Buffer[] | null = null;
  private bufferedBytes = 0;
  private bufferedEnd = false;
  private bufferedTrailers: HeaderMap | null = null;
  private requestDone: boolean;
  /** The request had no body at all (ended with its headers). */
  private readonly headersOnly: boolean;
  private responseStarted = false;
  private done = false;
  private retriedReset = false;
  /** Outlier detection heard about the current attempt (reportAttempt). */
  private attemptReported = false;
  private upstreamStart = 0;
  private upgraded = false;
  private autoHostRewrite = false;
  /** The request carries x-envoy-* headers (kept only from a trusted client; read by the router). */
  private envoyHeaders = false;
  private perTryMs = 0;
  /** Retries of this request; null when no retry policy applies (no cost then). */
  private retry: RetryState | null = null;
  private attempts = 0;
  /** The current attempt holds a max_requests slot and counts in upstream_rq_active. */
  private attemptResources: PriorityResources | null = null;
  /** Request body kept for a retry's replay (null when none is kept); replayLost once it outgrew the bound. */
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  private replayLost = false;
  private replayTrailers: HeaderMap | null = null;
  private backOffTimer: NodeJS.Timeout | null = null;
  private attemptCountHeader = false;
  private attemptCountInResponse = false;

  constructor(
    private readonly hcm: HcmRuntime,
    private readonly ds: DownstreamStream,
  ) {
    this.head = ds.head;
    this.requestDone = ds.requestEnded;
    this.headersOnly = ds.requestEnded;
    this.idleTimeoutMs = hcm.config.streamIdleTimeoutMs;
    this.durationMs = hcm.config.maxStreamDurationMs;
    this.remoteAddress = ds.remoteAddress;
    this.remotePort = ds.remotePort;
    this.localAddress = ds.localAddress;
    this.localPort = ds.localPort;
    ds.sink = this;
  }

  start(): void {
    const hcm = this.hcm;
    const cfg = hcm.config;
    const st = hcm.stats;
    st.downstream_rq_total.inc();
    st.downstream_rq_active.inc();
    if (this.head.protocol === 'HTTP/2') st.downstream_rq_http2_total.inc();
    else st.downstream_rq_http1_total.inc();
    const head = this.head;
    if (head.protocol === 'HTTP/1.0') {
      if (!cfg.http1.acceptHttp10) return this.localReply('http10_rejected');
      if (head.authority === '' && cfg.http1.defaultHostForHttp10 !== undefined) head.authority = cfg.http1.defaultHostForHttp10;
    }
    if (cfg.headersWithUnderscoresAction !== 'ALLOW' && this.underscores(head.headers)) return this.localReply('invalid_header_name');
    if (cfg.pathWithEscapedSlashesAction === 'REJECT_REQUEST' || cfg.pathWithEscapedSlashesAction === 'UNESCAPE_AND_FORWARD') {
      const q = head.path.indexOf('?');
      const p = q === -1 ? head.path : head.path.slice(0, q);
      if (/%(2f|5c)/i.test(p)) {
        if (cfg.pathWithEscapedSlashesAction === 'REJECT_REQUEST') return this.localReply('escaped_slashes');
        head.path = p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\') + (q === -1 ? '' : head.path.slice(q));
      }
    }
    if (cfg.stripPortMode !== 'none' || cfg.stripTrailingHostDot) head.authority = this.normalizeAuthority(head.authority);
    if (cfg.normalizePath || cfg.mergeSlashes) {
      const p = normalizePath(head.path, cfg.normalizePath, cfg.mergeSlashes);
      if (p === null) return this.localReply('downstream_protocol_error');
      head.path = p;
    }
    this.sanitize(head.headers);
    const table = hcm.routeTable();
    const vh = table === null ? undefined : selectVirtualHost(table, head.authority);
    const route = vh === undefined ? undefined : matchRoute(vh, head);
    if (route === undefined) {
      st.no_route.inc();
      return this.localReply('no_route');
    }
    this.route = route;
    this.responseChain = route.responseChain;
    const a = route.action;
    if (a.t === 'direct_response') {
      st.rq_direct_response.inc();
      return this.sendLocal(a.status, '', a.body ?? EMPTY, null);
    }
    if (a.t === 'redirect') {
      st.rq_redirect.inc();
      return this.sendLocal(a.responseCode, '', EMPTY, redirectLocation(a, head));
    }
    this.routeTo(a, route, vh!);
  }

  /** Envoy's headers_with_underscores_action: true when the request must be rejected. */
  private underscores(h: HeaderMap): boolean {
    const names = h.names;
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i].includes('_')) {
        if (this.hcm.config.headersWithUnderscoresAction === 'REJECT_REQUEST') return true;
        h.remove(names[i]);
      }
    }
    return false;
  }

  /** strip_any_host_port / strip_matching_host_port / strip_trailing_host_dot. */
  private normalizeAuthority(a: string): string {
    const cfg = this.hcm.config;
    let host = a;
    let port = '';
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(a);
    if (m !== null) {
      host = m[1];
      port = m[2] ?? '';
    }
    if (cfg.stripTrailingHostDot && host.endsWith('.')) host = host.slice(0, -1);
    if (port !== '') {
      const strip = cfg.stripPortMode === 'any' || (cfg.stripPortMode === 'matching' && Number(port) === this.localPort);
      if (!strip) return host + ':' + port;
    }
    return host;
  }

  /** x-forwarded-for / -proto / -port, x-request-id, via, XFCC, as Envoy's HCM sets them. */
  private sanitize(h: HeaderMap): void {
    const cfg = this.hcm.config;
    // Plain-text connections carry no client certificate: every mode but ALWAYS_FORWARD_ONLY
    // sanitises x-forwarded-client-cert (Envoy's forward_client_cert_details).
    if (cfg.forwardClientCertDetails !== 'ALWAYS_FORWARD_ONLY' && cfg.forwardClientCertDetails !== 'FORWARD_ONLY') h.remove('x-forwarded-client-cert');
    if (cfg.appendXForwardedPort && !h.has('x-forwarded-port')) h.set('x-forwarded-port', String(this.localPort));
    if (cfg.via !== undefined) appendVia(h, cfg.via);
    if (cfg.useRemoteAddress) {
      if (!cfg.skipXffAppend) {
        const xff = h.get('x-forwarded-for');
        const ip = stripV4Mapped(this.remoteAddress);
        h.set('x-forwarded-for', xff === undefined ? ip : xff + ',' + ip);
      }
      h.set('x-forwarded-proto', this.head.scheme);
    } else if (!h.has('x-forwarded-proto')) h.set('x-forwarded-proto', this.head.scheme);
    if (cfg.generateRequestId) {
      const rid = h.get('x-request-id');
      // An edge proxy resets the id of requests from outside unless told to keep it.
      if (rid === undefined || (cfg.useRemoteAddress && !cfg.preserveExternalRequestId && !isInternal(this.remoteAddress))) {
        h.set('x-request-id', randomRequestId());
      }
    }
    const names = h.names;
    for (let i = 0; i < names.length; i++) {
      if (names[i].startsWith('x-envoy-')) {
        this.envoyHeaders = true;
        break;
      }
    }
    // Envoy honours x-envoy-retry-on, x-envoy-upstream-rq-timeout-ms etc. only on internal
    // requests — x-forwarded-for holding exactly one address, an internal one — and strips
    // them from every other request.
    // https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/header_sanitizing
    if (this.envoyHeaders && !internalRequest(h)) {
      for (const n of TRUSTED_ONLY_HEADERS) h.remove(n);
      this.envoyHeaders = false;
    }
  }

  private routeTo(a: RouteAction, route: Route, vh: VirtualHost): void {
    const head = this.head;
    let clusterName: string;
    let requestChain = route.requestChain;
    const spec = a.clusterSpecifier;
    if (spec.t === 'cluster') clusterName = spec.cluster;
    else if (spec.t === 'weighted') {
      const w = pickWeightedCluster(spec, Math.random());
      clusterName = w.name;
      requestChain = w.requestChain;
      this.responseChain = w.responseChain;
      if (w.hostRewriteLiteral !== undefined) head.authority = w.hostRewriteLiteral;
    } else clusterName = head.headers.get(spec.clusterHeader) ?? '';
    const cluster = this.hcm.clusters.get(clusterName);
    if (cluster === undefined) {
      this.hcm.stats.no_cluster.inc();
      const spec2 = localReplySpec('no_cluster');
      this.responseFlags = spec2.flag;
      return this.sendLocal(a.clusterNotFoundStatus, spec2.flag, EMPTY, null);
    }
    this.cluster = cluster;
    if (head.headers.has('upgrade') && !this.upgradeAllowed(a, head.headers.get('upgrade')!)) return this.localReply('upgrade_failed');
    const newPath = rewritePath(a, head.path);
    if (newPath !== undefined && newPath !== head.path) {
      head.headers.set('x-envoy-original-path', head.path);
      head.path = newPath;
    }
    if (a.hostRewriteLiteral !== undefined) head.authority = a.hostRewriteLiteral;
    else if (a.hostRewriteHeader !== undefined) {
      const v = head.headers.get(a.hostRewriteHeader);
      if (v !== undefined) head.authority = v;
    }
    if (requestChain.length > 0) applyRequestMutations(head.headers, requestChain, this);
    if (a.idleTimeoutMs !== undefined) this.idleTimeoutMs = a.idleTimeoutMs;
    this.autoHostRewrite = a.autoHostRewrite;
    // The hash is computed once per request, and only when it can matter (Envoy computes it
    // lazily when a hashing balancer asks): a retry re-picks with the same hash.
    if (cluster.usesHash && a.hashPolicy.length > 0) computeRequestHash(a.hashPolicy, this);
    this.priority = a.priority;
    const timeout = this.routerTimeouts(a);
    // Envoy tells the upstream how long it will wait (x-envoy-expected-rq-timeout-ms, unless
    // suppress_envoy_headers) and, with max_grpc_timeout, rewrites grpc-timeout to it.
    const expected = this.perTryMs > 0 ? this.perTryMs : timeout;
    if (expected > 0) {
      if (!this.hcm.suppressEnvoyHeaders) head.headers.set('x-envoy-expected-rq-timeout-ms', String(expected));
      if (a.maxGrpcTimeoutMs !== undefined && isGrpcContentType(head.headers.get('content-type'))) head.headers.set('grpc-timeout', formatGrpcTimeout(expected));
    }
    // Envoy's route timeout runs from the end of the downstream request to the end of the
    // response; the connection manager's sweeper (timeouts.ts) enforces it.
    if (timeout > 0) {
      this.routeTimeoutMs = timeout;
      if (this.requestDone) this.routeDeadline = Date.now() + timeout;
    }
    this.attemptCountHeader = vh.includeRequestAttemptCount;
    this.attemptCountInResponse = vh.includeAttemptCountInResponse;
    if (a.retryPolicy !== undefined || this.envoyHeaders) this.setUpRetries(a);
    this.pickAndConnect();
  }

  /** The timeouts in force for this request (router_timeouts.ts); returns the route timeout. */
  private routerTimeouts(a: RouteAction): number {
    const t = computeRouterTimeouts(a, this.head.headers, this.envoyHeaders, this.durationMs);
    this.perTryMs = t.perTryMs;
    this.durationMs = t.durationMs;
    if (t.perRequest) {
      const shortest = Math.min(...[t.timeoutMs, t.perTryMs, t.durationMs].filter((x) => x > 0), 60_000);
      this.hcm.needSweep(this, shortest);
    }
    return t.timeoutMs;
  }

  /** The retry policy of the route (or virtual host) plus the trusted x-envoy-retry-* headers. */
  private setUpRetries(a: RouteAction): void {
    const policy = a.retryPolicy;
    let on = policy?.retryOn ?? 0;
    let max = policy?.numRetries ?? 1;
    if (this.envoyHeaders) {
      const h = this.head.headers;
      const ro = h.get('x-envoy-retry-on');
      if (ro !== undefined) on |= parseRetryOn(ro, false, true);
      const rg = h.get('x-envoy-retry-grpc-on');
      if (rg !== undefined) on |= parseRetryOn(rg, true, false);
      const mr = h.get('x-envoy-max-retries');
      if (mr !== undefined && /^\d+$/.test(mr.trim())) max = Number(mr.trim());
      h.remove('x-envoy-retry-on');
      h.remove('x-envoy-retry-grpc-on');
      h.remove('x-envoy-max-retries');
    }
    // An upgrade's "body" is the tunnel: it is never kept for a replay, nor retried.
    if (on === 0 || this.head.headers.has('upgrade')) return;
    this.retry = new RetryState(on, max, policy);
    if (!this.requestDone) this.replay = [];
  }

  private upgradeAllowed(a: RouteAction, type: string): boolean {
    const t = type.toLowerCase();
    for (const u of a.upgradeConfigs) if (u.upgradeType.toLowerCase() === t) return u.enabled;
    for (const u of this.hcm.config.upgradeConfigs) if (u.upgradeType.toLowerCase() === t) return u.enabled !== false;
    return false;
  }

  private pickAndConnect(): void {
    const cluster = this.cluster!;
    this.attemptReported = false;
    let host = cluster.pick(this);
    const tried = this.retry === null ? null : this.retry.tried;
    if (tried !== null && host !== null && cluster.originalDst === null && tried.includes(host)) {
      // previous_hosts: pick again, up to host_selection_retry_max_attempts times, for a host
      // not tried yet (hash balancers take the attempt number to choose an alternative).
      const max = this.retry!.policy!.hostSelectionMaxAttempts;
      for (let i = 1; i <= max && host !== null && tried.includes(host); i++) {
        this.hostSelectionAttempt = i;
        host = cluster.pick(this);
      }
      this.hostSelectionAttempt = 0;
    }
    if (host === null) {
      cluster.stats.upstream_cx_none_healthy.inc();
      return this.localReply('no_healthy_upstream');
    }
    // Circuit breaker max_requests of the route's priority (Envoy counts the overflow in
    // upstream_rq_pending_overflow, as its connection pools do).
    const rm = cluster.resources.of(this.priority);
    if (!rm.requests.canCreate()) {
      cluster.stats.upstream_rq_pending_overflow.inc();
      return this.localReply('overflow');
    }
    rm.requests.inc();
    this.attemptResources = rm;
    this.attempts++;
    if (tried !== null) tried.push(host);
    if (this.attemptCountHeader) this.head.headers.set('x-envoy-attempt-count', String(this.attempts));
    this.host = host;
    this.upstreamAddress = host.key;
    // auto_host_rewrite: Host becomes the chosen upstream's hostname (DNS clusters, or an endpoint's hostname).
    if (this.autoHostRewrite && host.hostname !== '') this.head.authority = host.hostname;
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    host.stats.rq_total++;
    const proto = cluster.config.upstreamProtocol;
    const p = proto === 'http2' || (proto === 'downstream' && this.head.protocol === 'HTTP/2') ? 'http2' : 'http1';
    this.upstreamStart = Date.now();
    const src = originalSource(this.ds.connectionInfo);
    this.poolReq = (src === undefined ? cluster.pool(host, p) : cluster.sourcePool(host, p, src)).newStream(this, this);
  }

  // ---- PoolClient
  onPoolReady(stream: UpstreamStream): void {
    this.poolReq = null;
    if (this.done) {
      stream.reset();
      return;
    }
    this.upstream = stream;
    const b = this.buffered;
    const endNow = this.requestDone && (b === null || b.length === 0) && this.bufferedTrailers === null;
    stream.sendHeaders(this.head, endNow);
    if (b !== null) {
      this.buffered = null;
      const n = b.length;
      for (let i = 0; i < n; i++) stream.sendData(b[i], i === n - 1 && this.bufferedEnd);
      this.bufferedBytes = 0;
    }
    if (this.bufferedTrailers !== null) stream.sendTrailers(this.bufferedTrailers);
    else if (this.requestDone && !endNow && (b === null || !this.bufferedEnd)) stream.sendData(EMPTY, true);
    // per_try_timeout runs from when the whole request is on its way upstream.
    if (this.perTryMs > 0 && this.requestDone) this.tryDeadline = Date.now() + this.perTryMs;
    this.ds.resumeRequest();
  }

  onPoolFailure(reason: ResetReason, detail: string): void {
    this.poolReq = null;
    this.upstreamFailed(reason, detail);
  }

  // ---- RequestBodySink (downstream → upstream)
  onRequestData(chunk: Buffer, endStream: boolean): void {
    this.lastActivityMs = Date.now();
    if (endStream) this.requestEnded();
    if (this.replay !== null) this.keepForReplay(chunk);
    const up = this.upstream;
    if (up !== null) {
      if (!up.sendData(chunk, endStream)) this.ds.pauseRequest();
      return;
    }
    if (this.done) return;
    if (this.buffered === null) this.buffered = [];
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (endStream) this.bufferedEnd = true;
    if (this.bufferedBytes > BUFFER_LIMIT) this.ds.pauseRequest();
  }

  /** Keeps a body chunk for a retry while the body stays within RETRY_BUFFER_LIMIT. */
  private keepForReplay(chunk: Buffer): void {
    if (this.replayBytes + chunk.length > RETRY_BUFFER_LIMIT) {
      this.replay = null;
      this.replayLost = true;
      this.cluster?.stats.retry_or_shadow_abandoned.inc();
      return;
    }
    this.replay!.push(chunk);
    this.replayBytes += chunk.length;
  }

  onRequestTrailers(trailers: HeaderMap): void {
    if (this.replay !== null) this.replayTrailers = trailers;
    this.requestEnded();
    if (this.upstream !== null) this.upstream.sendTrailers(trailers);
    else this.bufferedTrailers = trailers;
  }

  private requestEnded(): void {
    this.requestDone = true;
    if (this.routeTimeoutMs > 0 && this.routeDeadline === 0 && !this.upgraded) this.routeDeadline = Date.now() + this.routeTimeoutMs;
    if (this.perTryMs > 0 && this.upstream !== null && this.tryDeadline === 0) this.tryDeadline = Date.now() + this.perTryMs;
  }

  onDownstreamReset(_reason: ResetReason): void {
    if (this.done) {
      // An upgraded tunnel outlives its HTTP exchange: tear down the upstream side too.
      if (this.upgraded && this.upstream !== null) {
        this.upstream.reset();
        this.upstream = null;
      }
      return;
    }
    this.hcm.stats.downstream_rq_rx_reset.inc();
    this.responseFlags = 'DC';
    if (this.upstream !== null) {
      this.cluster?.stats.upstream_rq_tx_reset.inc();
      this.upstream.reset();
      this.upstream = null;
    }
    this.finish();
  }

  onDownstreamDrain(): void {
    this.upstream?.resumeResponse();
  }

  // ---- UpstreamResponseSink (upstream → downstream)
  onInformational(_head: ResponseHead): void {
    // 100-continue was answered locally (proxy_100_continue: false); drop upstream 1xx.
  }

  onResponseHeaders(head: ResponseHead, endStream: boolean): void {
    if (this.done) return;
    const status = head.status;
    if (status === 101) {
      this.upgraded = true;
      this.hcm.stats.downstream_cx_upgrades_total.inc();
      this.routeDeadline = 0;
      this.routeTimeoutMs = 0;
    }
    this.cluster!.stats.status(status);
    this.tryDeadline = 0;
    const h = head.headers;
    const retry = this.retry;
    if (retry !== null && status !== 101) {
      if (retry.wouldRetryResponse(status, h)) {
        // The response is dropped: an unfinished upstream stream is reset (an HTTP/1.1
        // connection in mid-response is closed), a finished one is left to its pool.
        const up = this.upstream;
        this.upstream = null;
        const tried = this.host;
        if (this.maybeRetry(true)) {
          this.reportAttempt(status, '', tried);
          if (!endStream) up?.reset();
          if (this.host !== null && status >= 500) this.host.stats.rq_error++;
          return;
        }
        this.upstream = up;
      } else {
        retry.release();
        if (this.attempts > 1) this.cluster!.stats.upstream_rq_retry_success.inc();
      }
    }
    if (this.attemptCountInResponse) h.set('x-envoy-attempt-count', String(this.attempts));
    this.responseHeaders = h;
    const chain = this.responseChain;
    if (chain !== null && chain.length > 0) applyResponseMutations(h, chain, this);
    const cookies = this.setCookies;
    if (cookies !== null) for (let i = 0; i < cookies.length; i++) h.add('set-cookie', cookies[i]);
    const now = Date.now();
    if (!this.hcm.suppressEnvoyHeaders) h.set('x-envoy-upstream-service-time', String(now - this.upstreamStart));
    this.addServerHeader(h);
    this.lastActivityMs = now;
    this.responseStarted = true;
    this.responseCode = status;
    if (this.hcm.draining) this.ds.closeAfterResponse();
    this.ds.sendHeaders(head, endStream);
    if (endStream) this.complete();
  }

  onResponseData(chunk: Buffer, endStream: boolean): void {
    if (this.done) return;
    this.lastActivityMs = Date.now();
    if (!this.ds.sendData(chunk, endStream)) this.upstream?.pauseResponse();
    if (endStream) this.complete();
  }

  onResponseTrailers(trailers: HeaderMap): void {
    if (this.done) return;
    this.ds.sendTrailers(trailers);
    this.complete();
  }

  onUpstreamReset(reason: ResetReason, detail?: string): void {
    this.upstream = null;
    if (this.done) return;
    this.cluster?.stats.upstream_rq_rx_reset.inc();
    this.upstreamFailed(reason, detail ?? '');
  }

  onUpstreamDrain(): void {
    this.ds.resumeRequest();
  }

  private upstreamFailed(reason: ResetReason, _detail: string): void {
    if (this.done) return;
    if (this.responseStarted) {
      // Headers are out: all we can do is abort the downstream stream too.
      this.responseFlags = 'UR';
      this.hcm.stats.downstream_rq_tx_reset.inc();
      this.ds.reset();
      this.finish();
      return;
    }
    // A keep-alive connection the upstream closed just as we reused it: try once more on a
    // fresh one when nothing of the request body has been committed yet.
    if (reason === 'connection_termination' && !this.retriedReset && this.headersOnly) {
      this.retriedReset = true;
      this.host!.stats.rq_error++;
      this.endAttempt();
      this.host = null;
      this.pickAndConnect();
      return;
    }
    if (this.retry !== null && this.maybeRetry(this.retry.wouldRetryReset(reason))) {
      if (this.host !== null) this.host.stats.rq_error++;
      this.reportAttempt(0, reason === 'connect_failure' ? 'UF' : reason === 'connection_termination' ? 'UC' : 'UR');
      return;
    }
    switch (reason) {
      case 'connect_failure':
        return this.localReply('connect_failure');
      case 'overflow':
        return this.localReply('overflow');
      case 'connection_termination':
        return this.localReply('upstream_terminated');
      default:
        return this.localReply('upstream_reset');
    }
  }

  get requestComplete(): boolean {
    return this.requestDone;
  }

  /** A connection-manager timeout from the sweeper (timeouts.ts). */
  onStreamTimeout(kind: 'stream_idle_timeout' | 'request_timeout' | 'max_stream_duration'): void {
    if (this.done) return;
    const st = this.hcm.stats;
    if (kind === 'stream_idle_timeout') st.downstream_rq_idle_timeout.inc();
    else if (kind === 'request_timeout') st.downstream_rq_timeout.inc();
    if (this.upstream !== null) {
      this.upstream.reset();
      this.upstream = null;
    }
    if (this.responseStarted) {
      this.responseFlags = kind === 'stream_idle_timeout' ? 'SI' : '';
      this.ds.reset();
      this.finish();
      return;
    }
    this.localReply(kind);
  }

  /**
   * Retries when the policy allows this outcome, the request was received whole with its
   * body kept, and num_retries and the retry circuit breaker allow; the retry waits the
   * back-off, then picks a host again. Returns whether a retry is on its way.
   */
  private maybeRetry(would: boolean): boolean {
    const retry = this.retry!;
    const cluster = this.cluster!;
    if (would && (!this.requestDone || this.replayLost)) would = false;
    if (retry.shouldRetry(would, cluster.resources.of(this.priority), cluster.stats) !== 'retry') return false;
    this.abandonUpstream();
    this.endAttempt();
    this.backOffTimer = setTimeout(onBackOffDone, retry.backOffMs(), this);
    return true;
  }

  /** The back-off is over: send the request again, body and trailers replayed. */
  retryNow(): void {
    this.backOffTimer = null;
    if (this.done) return;
    const r = this.replay;
    this.buffered = r === null || r.length === 0 ? null : r.slice();
    this.bufferedBytes = this.replayBytes;
    this.bufferedEnd = this.buffered !== null && this.replayTrailers === null;
    this.bufferedTrailers = this.replayTrailers;
    this.pickAndConnect();
  }

  /**
   * Tells outlier detection how an attempt on `host` ended (each retried attempt, and the last
   * one when the stream finishes); once per attempt.
   */
  private reportAttempt(status: number, flag: string, host: Host | null = this.host): void {
    if (host === null || this.attemptReported) return;
    this.attemptReported = true;
    reportHttpOutcome(host, status, flag);
  }

  /** Withdraws a request still waiting for a connection and resets an upstream stream in progress. */
  private abandonUpstream(): void {
    if (this.poolReq !== null) {
      this.poolReq.cancel();
      this.poolReq = null;
    }
    if (this.upstream !== null) {
      this.upstream.reset();
      this.upstream = null;
    }
  }

  /** The current upstream attempt is over: release its max_requests slot and upstream_rq_active. */
  private endAttempt(): void {
    this.tryDeadline = 0;
    const rm = this.attemptResources;
    if (rm !== null) {
      this.attemptResources = null;
      rm.requests.dec();
      this.cluster!.stats.upstream_rq_active.dec();
    }
  }

  /** per_try_timeout expired before the response headers: retry (as a timeout) or answer 504 UT. */
  onPerTryTimeout(): void {
    this.tryDeadline = 0;
    if (this.done || this.responseStarted) return;
    this.cluster?.stats.upstream_rq_per_try_timeout.inc();
    if (this.host !== null) this.host.stats.rq_timeout++;
    if (this.retry !== null && this.maybeRetry(this.retry.wouldRetryReset('timeout'))) {
      this.reportAttempt(0, 'UT');
      return;
    }
    this.timedOut();
  }

  /** The route (global) timeout, from the sweeper. */
  onTimeout(): void {
    this.routeDeadline = 0;
    if (this.done) return;
    this.cluster?.stats.upstream_rq_timeout.inc();
    if (this.host !== null) this.host.stats.rq_timeout++;
    this.timedOut();
  }

  /** A timeout ended the request: 504 UT, or a reset when the response has started. */
  private timedOut(): void {
    this.abandonUpstream();
    if (this.responseStarted) {
      this.responseFlags = 'UT';
      this.ds.reset();
      this.finish();
      return;
    }
    this.localReply('upstream_timeout');
  }

  // ---- responses
  private addServerHeader(h: HeaderMap): void {
    const cfg = this.hcm.config;
    if (cfg.via !== undefined) appendVia(h, cfg.via);
    if (cfg.alwaysSetRequestIdInResponse) {
      const rid = this.head.headers.get('x-request-id');
      if (rid !== undefined) h.set('x-request-id', rid);
    }
    const mode = cfg.serverHeaderTransformation;
    if (mode === 'PASS_THROUGH') return;
    if (mode === 'APPEND_IF_ABSENT' && h.has('server')) return;
    h.set('server', cfg.serverName);
  }

  localReply(code: LocalReplyCode): void {
    const spec = localReplySpec(code);
    this.responseFlags = spec.flag;
    // A gRPC client gets the error as a gRPC status (Envoy's local replies to gRPC requests);
    // a stream over its duration is DEADLINE_EXCEEDED.
    if (isGrpcContentType(this.head.headers.get('content-type'))) {
      const gs = code === 'max_stream_duration' ? GRPC_DEADLINE_EXCEEDED : httpToGrpcStatus(spec.status);
      return this.sendLocal(spec.status, spec.flag, EMPTY, null, gs, spec.body);
    }
    this.sendLocal(spec.status, spec.flag, spec.body.length > 0 ? Buffer.from(spec.body) : EMPTY, null);
  }

  /** Sends a response generated here (direct response, redirect, error); gRPC errors as a trailers-only response. */
  private sendLocal(status: number, flag: string, body: Buffer, location: string | null, grpcStatus = -1, grpcMessage = ''): void {
    if (this.done) return;
    this.abandonUpstream();
    if (flag) this.responseFlags = flag;
    const h = new Headers();
    if (location !== null) h.add('location', location);
    if (grpcStatus >= 0) {
      status = 200;
      h.add('content-type', 'application/grpc');
      h.add('grpc-status', String(grpcStatus));
      if (grpcMessage !== '') h.add('grpc-message', encodeGrpcMessage(grpcMessage));
    }
    if (body.length > 0) {
      h.add('content-length', String(body.length));
      h.add('content-type', 'text/plain');
    }
    const chain = this.responseChain;
    this.responseHeaders = h;
    if (chain !== null && chain.length > 0) applyResponseMutations(h, chain, this);
    this.addServerHeader(h);
    this.responseStarted = true;
    this.responseCode = status;
    // A request body we will not read any more: close the connection after this reply.
    if (!this.requestDone || this.hcm.draining) this.ds.closeAfterResponse();
    const noBody = body.length === 0;
    this.ds.sendHeaders({ status, headers: h }, noBody);
    if (!noBody) this.ds.sendData(body, true);
    this.complete();
  }

  private complete(): void {
    if (this.done) return;
    // The upstream answered before the request body was all sent: that request can't be
    // finished any more, so release its upstream stream (an HTTP/2 slot, an HTTP/1.1 socket).
    if (!this.requestDone && !this.upgraded && this.upstream !== null) {
      this.upstream.reset();
      this.upstream = null;
    }
    const code = this.responseCode;
    this.hcm.stats.status(code);
    this.hcm.stats.downstream_rq_completed.inc();
    if (this.host !== null) {
      if (code >= 500) this.host.stats.rq_error++;
      else this.host.stats.rq_success++;
    }
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.routeDeadline = 0;
    if (this.poolReq !== null) {
      this.poolReq.cancel();
      this.poolReq = null;
    }
    this.hcm.stats.downstream_rq_active.dec();
    this.reportAttempt(this.responseCode, this.responseFlags);
    if (this.cluster !== null) this.endAttempt();
    if (this.retry !== null) {
      this.retry.release();
      if (this.backOffTimer !== null) {
        clearTimeout(this.backOffTimer);
        this.backOffTimer = null;
      }
    }
    this.hcm.streamDone(this);
  }
}


function appendVia(h: HeaderMap, via: string): void {
  const v = h.get('via');
  h.set('via', v === undefined ? via : v + ', ' + via);
}

function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Envoy treats RFC 1918, loopback and unique-local addresses as internal. */
function isInternal(addr: string): boolean {
  const a = stripV4Mapped(addr);
  return /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a) || a === '::1' || /^f[cd]/i.test(a);
}

/** Envoy's internal request: x-forwarded-for holds a single address, and it is internal. */
function internalRequest(h: HeaderMap): boolean {
  const xff = h.get('x-forwarded-for');
  return xff !== undefined && !xff.includes(',') && isInternal(xff.trim());
}

