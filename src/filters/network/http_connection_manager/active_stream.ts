// One request through the connection manager and the router: header sanitising, route
// selection, local replies, and the upstream exchange. A single object per request
// implements every callback interface involved (body sink, upstream sink, pool client),
// so the request path allocates one stream object rather than a closure per event.
import type { OriginalDstHosts } from '../../../upstream/original_dst';
import { originalSource } from '../../../upstream/source';
import { randomUUID } from 'node:crypto';
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

const EMPTY = Buffer.alloc(0);
/** Body bytes held while no upstream stream exists yet, before the downstream is paused. */
const BUFFER_LIMIT = 1024 * 1024;

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
  private upstreamStart = 0;
  private upgraded = false;
  private autoHostRewrite = false;

  constructor(
    private readonly hcm: HcmRuntime,
    private readonly ds: DownstreamStream,
  ) {
    this.head = ds.head;
    this.requestDone = ds.requestEnded;
    this.headersOnly = ds.requestEnded;
    this.idleTimeoutMs = hcm.config.streamIdleTimeoutMs;
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
    this.routeTo(a, route);
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
        h.set('x-request-id', randomUUID());
      }
    }
  }

  private routeTo(a: RouteAction, route: Route): void {
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
    const timeout = a.timeoutMs;
    // Envoy's route timeout runs from the end of the downstream request to the end of the
    // response; the connection manager's sweeper (timeouts.ts) enforces it.
    if (timeout > 0) {
      this.routeTimeoutMs = timeout;
      if (this.requestDone) this.routeDeadline = Date.now() + timeout;
    }
    this.pickAndConnect();
  }

  private upgradeAllowed(a: RouteAction, type: string): boolean {
    const t = type.toLowerCase();
    for (const u of a.upgradeConfigs) if (u.upgradeType.toLowerCase() === t) return u.enabled;
    for (const u of this.hcm.config.upgradeConfigs) if (u.upgradeType.toLowerCase() === t) return u.enabled !== false;
    return false;
  }

  private pickAndConnect(): void {
    const cluster = this.cluster!;
    const host = cluster.originalDst === null ? cluster.pick(this) : this.originalDstHost(cluster.originalDst);
    if (host === null) {
      cluster.stats.upstream_cx_none_healthy.inc();
      return this.localReply('no_healthy_upstream');
    }
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

  /**
   * ORIGINAL_DST: the host the client was going to — the x-envoy-original-dst-host header
   * when use_http_header allows it, else the connection's restored original destination.
   * None when neither is there (Envoy then has no host either: 503 UH).
   */
  private originalDstHost(od: OriginalDstHosts): Host | null {
    if (od.config.useHttpHeader) {
      const v = this.head.headers.get(od.config.httpHeaderName);
      if (v !== undefined) return od.hostFromHeader(v.trim());
    }
    const info = this.ds.connectionInfo;
    return info !== undefined && info.localRestored ? od.host(info.localAddress, info.localPort) : null;
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

  onRequestTrailers(trailers: HeaderMap): void {
    this.requestEnded();
    if (this.upstream !== null) this.upstream.sendTrailers(trailers);
    else this.bufferedTrailers = trailers;
  }

  private requestEnded(): void {
    this.requestDone = true;
    if (this.routeTimeoutMs > 0 && this.routeDeadline === 0 && !this.upgraded) this.routeDeadline = Date.now() + this.routeTimeoutMs;
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
    const h = head.headers;
    this.responseHeaders = h;
    const chain = this.responseChain;
    if (chain !== null && chain.length > 0) applyResponseMutations(h, chain, this);
    const cookies = this.setCookies;
    if (cookies !== null) for (let i = 0; i < cookies.length; i++) h.add('set-cookie', cookies[i]);
    if (!this.hcm.suppressEnvoyHeaders) h.set('x-envoy-upstream-service-time', String(Date.now() - this.upstreamStart));
    this.addServerHeader(h);
    this.lastActivityMs = Date.now();
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
      this.cluster!.stats.upstream_rq_active.dec();
      this.host = null;
      this.pickAndConnect();
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

  onTimeout(): void {
    this.routeDeadline = 0;
    if (this.done) return;
    this.cluster?.stats.upstream_rq_timeout.inc();
    if (this.host !== null) this.host.stats.rq_timeout++;
    if (this.upstream !== null) {
      this.upstream.reset();
      this.upstream = null;
    }
    if (this.poolReq !== null) {
      this.poolReq.cancel();
      this.poolReq = null;
    }
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
    this.sendLocal(spec.status, spec.flag, spec.body.length > 0 ? Buffer.from(spec.body) : EMPTY, null);
  }

  /** Sends a response generated here (direct response, redirect, error). */
  private sendLocal(status: number, flag: string, body: Buffer, location: string | null): void {
    if (this.done) return;
    if (this.poolReq !== null) {
      this.poolReq.cancel();
      this.poolReq = null;
    }
    if (this.upstream !== null) {
      this.upstream.reset();
      this.upstream = null;
    }
    if (flag) this.responseFlags = flag;
    const h = new Headers();
    if (location !== null) h.add('location', location);
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
    if (this.cluster !== null && this.host !== null) this.cluster.stats.upstream_rq_active.dec();
    if (this.host !== null) reportHttpOutcome(this.host, this.responseCode, this.responseFlags);
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
