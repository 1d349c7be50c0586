// Listener filters at run time: what happens between accept() and filter-chain matching.
// Envoy runs them in order; each either decides at once (original_dst, original_src) or
// looks at the first bytes (tls_inspector, http_inspector) until it can decide. Bytes are
// only looked at: all of them go to the terminal filter afterwards as `initial`.
//
// listener_filters_timeout bounds the wait: when it passes, the connection is closed, or
// with continue_on_listener_filters_timeout it goes on to filter-chain matching with what
// is known — how a server-first protocol (the client sends nothing) still works.
import type { Socket } from 'node:net';
import type { NetworkFilterConfig } from '../config/types';
import { HTTP_INSPECTOR_TYPE_URL, ORIGINAL_DST_TYPE_URL, ORIGINAL_SRC_TYPE_URL, TLS_INSPECTOR_TYPE_URL, type OriginalSrcConfig } from '../filters/listener';
import { inspectClientHello } from '../filters/listener/client_hello';
import { detectHttp } from '../filters/listener/http_detect';
import { originalDst } from '../interception/original_dst';
import type { Counter, Gauge, StatsStore } from '../telemetry/stats';
import type { ConnectionInfo } from './connection_info';

type Verdict = 'done' | 'more' | 'close';

interface ListenerFilter {
  /** Looks at the connection and the bytes read so far (empty at accept). */
  process(s: Socket, info: ConnectionInfo, data: Buffer): Verdict;
}

/**
 * A REDIRECTed connection's original destination comes from the kernel's NAT entry; on a
 * transparent (TPROXY) listener the local address already is the original destination.
 * Either way it counts as restored, which is what use_original_dst and ORIGINAL_DST
 * clusters act on.
 */
class OriginalDstFilter implements ListenerFilter {
  constructor(private readonly transparent: boolean) {}
  process(s: Socket, info: ConnectionInfo): Verdict {
    const d = originalDst(s);
    if (d !== null) {
      info.localAddress = d.address;
      info.localPort = d.port;
      info.localRestored = true;
    } else if (this.transparent) {
      info.localRestored = true;
    }
    return 'done';
  }
}

class OriginalSrcFilter implements ListenerFilter {
  constructor(private readonly cfg: OriginalSrcConfig) {}
  process(_s: Socket, info: ConnectionInfo): Verdict {
    info.originalSrc = { bindPort: this.cfg.bindPort, mark: this.cfg.mark };
    return 'done';
  }
}

/** Stats as Envoy names them: tls_inspector.* and http_inspector.* (shared by all listeners). */
class TlsInspectorFilter implements ListenerFilter {
  private readonly found: Counter;
  private readonly notFound: Counter;
  private readonly sniFound: Counter;
  private readonly sniNotFound: Counter;
  private readonly alpnFound: Counter;
  private readonly alpnNotFound: Counter;
  private readonly tooLarge: Counter;
  constructor(store: StatsStore) {
    this.found = store.counter('tls_inspector.tls_found');
    this.notFound = store.counter('tls_inspector.tls_not_found');
    this.sniFound = store.counter('tls_inspector.sni_found');
    this.sniNotFound = store.counter('tls_inspector.sni_not_found');
    this.alpnFound = store.counter('tls_inspector.alpn_found');
    this.alpnNotFound = store.counter('tls_inspector.alpn_not_found');
    this.tooLarge = store.counter('tls_inspector.client_hello_too_large');
  }
  process(_s: Socket, info: ConnectionInfo, data: Buffer): Verdict {
    if (data.length === 0) return 'more';
    const r = inspectClientHello(data);
    switch (r.state) {
      case 'more':
        return 'more';
      case 'too_large':
        this.tooLarge.inc();
        return 'close';
      case 'not_tls':
        this.notFound.inc();
        return 'done';
      case 'tls':
        this.found.inc();
        info.transportProtocol = 'tls';
        info.serverName = r.serverName;
        (r.serverName ? this.sniFound : this.sniNotFound).inc();
        (r.alpn.length > 0 ? this.alpnFound : this.alpnNotFound).inc();
        if (r.alpn.length > 0) info.applicationProtocols = r.alpn;
        return 'done';
    }
  }
}

class HttpInspectorFilter implements ListenerFilter {
  private readonly h10: Counter;
  private readonly h11: Counter;
  private readonly h2: Counter;
  private readonly none: Counter;
  constructor(store: StatsStore) {
    this.h10 = store.counter('http_inspector.http10_found');
    this.h11 = store.counter('http_inspector.http11_found');
    this.h2 = store.counter('http_inspector.http2_found');
    this.none = store.counter('http_inspector.http_not_found');
  }
  process(_s: Socket, info: ConnectionInfo, data: Buffer): Verdict {
    // Envoy: nothing to do on TLS (ALPN says it), or when a protocol is already known.
    if (info.transportProtocol === 'tls' || info.applicationProtocols.length > 0) return 'done';
    const r = detectHttp(data);
    if (r === 'more') return 'more';
    if (r === 'none') this.none.inc();
    else {
      info.applicationProtocols = [r];
      (r === 'h2c' ? this.h2 : r === 'http/1.1' ? this.h11 : this.h10).inc();
    }
    return 'done';
  }
}

function build(f: NetworkFilterConfig, store: StatsStore, transparent: boolean): ListenerFilter {
  switch (f.typeUrl.slice(f.typeUrl.lastIndexOf('/') + 1)) {
    case ORIGINAL_DST_TYPE_URL.slice(ORIGINAL_DST_TYPE_URL.lastIndexOf('/') + 1):
      return new OriginalDstFilter(transparent);
    case ORIGINAL_SRC_TYPE_URL.slice(ORIGINAL_SRC_TYPE_URL.lastIndexOf('/') + 1):
      return new OriginalSrcFilter(f.config as OriginalSrcConfig);
    case TLS_INSPECTOR_TYPE_URL.slice(TLS_INSPECTOR_TYPE_URL.lastIndexOf('/') + 1):
      return new TlsInspectorFilter(store);
    case HTTP_INSPECTOR_TYPE_URL.slice(HTTP_INSPECTOR_TYPE_URL.lastIndexOf('/') + 1):
      return new HttpInspectorFilter(store);
  }
  throw new Error(`listener filter ${f.name} (${f.typeUrl}) has no runtime`);
}

const EMPTY = Buffer.alloc(0);

export interface ListenerFilterOptions {
  timeoutMs: number;
  continueOnTimeout: boolean;
  /** The listener is transparent (TPROXY): its local address is the original destination. */
  transparent: boolean;
  /** downstream_pre_cx_timeout / downstream_pre_cx_active of the listener. */
  timeouts: Counter;
  active: Gauge;
}

/** The listener filters of one listener config, run for each accepted socket. */
export class ListenerFilterChain {
  private readonly filters: ListenerFilter[];

  constructor(
    configs: NetworkFilterConfig[],
    store: StatsStore,
    private readonly opts: ListenerFilterOptions,
  ) {
    this.filters = configs.map((c) => build(c, store, opts.transparent));
  }

  /**
   * Runs the filters; calls `done(bytesRead)` once they all decided (synchronously when
   * none needs bytes), or destroys the socket (timeout without continue, peer close,
   * a ClientHello too large).
   */
  run(s: Socket, info: ConnectionInfo, initial: Buffer | null, done: (initial: Buffer | null) => void): void {
    const filters = this.filters;
    let i = 0;
    let data = initial ?? EMPTY;
    const advance = (): Verdict => {
      for (; i < filters.length; i++) {
        const v = filters[i].process(s, info, data);
        if (v !== 'done') return v;
      }
      return 'done';
    };
    const first = advance();
    if (first === 'done') return done(initial);
    if (first === 'close') return void s.destroy();

    // Wait for bytes. The socket is paused before `done` runs, as when the connection
    // manager sniffs a codec itself: terminal filters resume it when they are ready to read
    // (node:http2 must find it paused to take over the bytes already read).
    const opts = this.opts;
    opts.active.inc();
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      s.pause();
      opts.active.dec();
      if (timer !== null) clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      const v = advance();
      if (v === 'more') return;
      finish();
      if (v === 'close') s.destroy();
      else done(data);
    };
    // Envoy closes a socket whose peer closes before the listener filters are done.
    const onEnd = () => {
      finish();
      s.destroy();
    };
    const onClose = () => finish();
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('close', onClose);
    if (opts.timeoutMs > 0) {
      timer = setTimeout(() => {
        finish();
        opts.timeouts.inc();
        if (opts.continueOnTimeout) done(data.length > 0 ? data : null);
        else s.destroy();
      }, opts.timeoutMs);
    }
  }
}
