// http_health_check: GET (or `method`) `path` with Host set to `host` (else the endpoint's
// health_check_config.hostname, else the cluster's name) and User-Agent Envoy/HC, over
// HTTP/1.1 or HTTP/2 (codec_client_type). A status in expected_statuses passes (degraded
// when the response carries x-envoy-degraded); one in retriable_statuses counts towards
// unhealthy_threshold; any other fails the host at once. With `receive`, the first
// response_buffer_size bytes of the body must also contain those blocks, in order.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/health_check.proto#config-core-v3-healthcheck-httphealthcheck
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { HeaderMap } from '../../http/headers';
import { applyRequestHeaderMutations } from '../../routing/header_mutation';
import type { HeaderMutations } from '../../routing/types';
import type { HttpCheckConfig } from './config';
import { activeFailure, networkFailure, OK, OK_DEGRADED, payloadsMatch, type Probe, type ProbeResult, type ProbeTarget } from './probe';

/** The request headers of one check: User-Agent, then the configured additions and removals. */
export function checkHeaders(method: string, path: string, t: ProbeTarget, mutations: HeaderMutations, userAgent = true): HeaderMap {
  const h = new HeaderMap();
  if (userAgent) h.set('user-agent', 'Envoy/HC');
  const ctx = {
    head: { method, path, authority: t.authority, scheme: 'http' as const, protocol: 'HTTP/1.1' as const, headers: h },
    remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0,
    upstreamAddress: t.hostKey,
    startTimeMs: Date.now(),
  };
  applyRequestHeaderMutations(h, [mutations], ctx);
  return h;
}

function inRanges(ranges: ReadonlyArray<[number, number]>, status: number): boolean {
  for (const [a, b] of ranges) if (status >= a && status < b) return true;
  return false;
}

/** The verdict on a complete response (Envoy's HttpActiveHealthCheckSession::healthCheckResult). */
export function judgeHttp(cfg: HttpCheckConfig, status: number, degraded: boolean, body: Buffer): ProbeResult {
  if (!inRanges(cfg.expectedStatuses, status)) {
    return activeFailure(`status ${status}`, inRanges(cfg.retriableStatuses, status));
  }
  if (cfg.receive.length > 0) {
    const window = cfg.responseBufferSize > 0 ? body.subarray(0, cfg.responseBufferSize) : body;
    if (!payloadsMatch(cfg.receive, window)) return activeFailure('response body does not match receive');
  }
  return degraded ? OK_DEGRADED : OK;
}

/** How much body to keep: only what `receive` matching needs. */
function bodyLimit(cfg: HttpCheckConfig): number {
  if (cfg.receive.length === 0) return 0;
  return cfg.responseBufferSize > 0 ? cfg.responseBufferSize : Infinity;
}

export class Http1Probe implements Probe {
  private agent: http.Agent | null;
  private req: http.ClientRequest | null = null;

  constructor(
    private readonly cfg: HttpCheckConfig,
    private readonly target: () => ProbeTarget,
    private readonly reuse: boolean,
  ) {
    this.agent = reuse ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : null;
  }

  check(done: (r: ProbeResult) => void): void {
    const t = this.target();
    const cfg = this.cfg;
    const headers = checkHeaders(cfg.method, cfg.path, t, cfg.headers).toObject();
    headers.host = t.authority;
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      this.req = null;
      done(r);
    };
    const req = http.request({ host: t.ip, port: t.port, method: cfg.method, path: cfg.path, headers, agent: this.agent ?? false, setHost: false });
    this.req = req;
    req.on('error', (e) => finish(networkFailure(e.message)));
    req.on('response', (res) => {
      const limit = bodyLimit(cfg);
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (d: Buffer) => {
        if (kept < limit) {
          chunks.push(d);
          kept += d.length;
        }
      });
      res.on('error', (e) => finish(networkFailure(e.message)));
      res.on('aborted', () => finish(networkFailure('response aborted')));
      res.on('end', () => finish(judgeHttp(cfg, res.statusCode ?? 0, res.headers['x-envoy-degraded'] !== undefined, Buffer.concat(chunks))));
    });
    req.end();
  }

  abort(): void {
    const r = this.req;
    this.req = null;
    r?.removeAllListeners('response');
    r?.on('error', () => undefined);
    r?.destroy();
    // Envoy closes the health-check connection on a timeout; the next check opens a new one.
    if (this.agent !== null) {
      this.agent.destroy();
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    }
  }

  close(): void {
    this.abort();
    this.agent?.destroy();
    this.agent = null;
  }
}

/**
 * One HTTP/2 connection for checks (h2c with prior knowledge, as the cluster's own HTTP/2
 * upstreams), shared between checks when reuse_connection is true.
 */
export class H2Connection {
  private session: http2.ClientHttp2Session | null = null;

  get(t: ProbeTarget): http2.ClientHttp2Session {
    const s = this.session;
    if (s !== null && !s.closed && !s.destroyed) return s;
    const host = t.ip.includes(':') ? `[${t.ip}]` : t.ip;
    const ns = http2.connect(`http://${host}:${t.port}`);
    ns.on('error', () => undefined);
    ns.on('goaway', () => {
      if (this.session === ns) this.session = null;
    });
    ns.on('close', () => {
      if (this.session === ns) this.session = null;
    });
    this.session = ns;
    return ns;
  }

  drop(): void {
    const s = this.session;
    this.session = null;
    s?.destroy();
  }
}

/**
 * What the HTTP/2 checks (HTTP and gRPC) share: the connection, the stream in flight, a result
 * delivered once (dropping the connection then unless reuse_connection), and cancelling.
 */
export abstract class H2StreamProbe implements Probe {
  protected readonly conn = new H2Connection();
  private stream: http2.ClientHttp2Stream | null = null;

  constructor(private readonly reuse: boolean) {}

  abstract check(done: (r: ProbeResult) => void): void;

  /**
   * Opens the check's stream to `t` with the pseudo-headers set. Returns the stream and the
   * once-only `finish`, or null when no stream could be opened (`done` has then been called).
   */
  protected openStream(
    t: ProbeTarget, method: string, path: string, headers: http2.OutgoingHttpHeaders, endStream: boolean, done: (r: ProbeResult) => void,
  ): { st: http2.ClientHttp2Stream; finish: (r: ProbeResult) => void } | null {
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      this.stream = null;
      if (!this.reuse) this.conn.drop();
      done(r);
    };
    headers[':method'] = method;
    headers[':path'] = path;
    headers[':authority'] = t.authority;
    headers[':scheme'] = 'http';
    let st: http2.ClientHttp2Stream;
    try {
      st = this.conn.get(t).request(headers, { endStream });
    } catch (e) {
      this.conn.drop();
      finish(networkFailure((e as Error).message));
      return null;
    }
    this.stream = st;
    return { st, finish };
  }

  abort(): void {
    const st = this.stream;
    this.stream = null;
    st?.removeAllListeners('close');
    st?.on('error', () => undefined);
    st?.close(http2.constants.NGHTTP2_CANCEL);
    this.conn.drop();
  }

  close(): void {
    this.abort();
  }
}

export class Http2Probe extends H2StreamProbe {
  constructor(
    private readonly cfg: HttpCheckConfig,
    private readonly target: () => ProbeTarget,
    reuse: boolean,
  ) {
    super(reuse);
  }

  check(done: (r: ProbeResult) => void): void {
    const t = this.target();
    const cfg = this.cfg;
    const headers: http2.OutgoingHttpHeaders = checkHeaders(cfg.method, cfg.path, t, cfg.headers).toObject();
    const opened = this.openStream(t, cfg.method, cfg.path, headers, true, done);
    if (opened === null) return;
    const { st, finish } = opened;
    let status = 0;
    let degraded = false;
    const limit = bodyLimit(cfg);
    const chunks: Buffer[] = [];
    let kept = 0;
    st.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
      degraded = h['x-envoy-degraded'] !== undefined;
    });
    st.on('data', (d: Buffer) => {
      if (kept < limit) {
        chunks.push(d);
        kept += d.length;
      }
    });
    st.on('error', (e) => finish(networkFailure(e.message)));
    st.on('close', () => {
      if (status === 0 || st.rstCode !== http2.constants.NGHTTP2_NO_ERROR) finish(networkFailure(`stream reset (${st.rstCode})`));
      else finish(judgeHttp(cfg, status, degraded, Buffer.concat(chunks)));
    });
  }
}
