// The management server: ADS over gRPC (both variants) plus the /status HTTP endpoint,
// around one MeshStore. Wiring only; the protocol lives in sotw.ts and delta.ts.
import * as http from 'node:http';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { log } from '../../log';
import { DeltaStream } from './delta';
import { adsDefinition, Msg } from './service';
import { SotwStream } from './sotw';
import { StatusRegistry } from './status';
import { MeshStore, type MeshState, type ReloadError } from './store';

export interface Bound {
  host: string;
  port: number;
}

/** Splits `host:port` (or `[v6]:port`); throws on a bad one. */
export function parseAddress(s: string): Bound {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) throw new Error(`expected HOST:PORT, got "${s}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port out of range in "${s}"`);
  return { host: m[1] ?? m[2], port };
}

function hostPort(b: Bound): string {
  return net.isIPv6(b.host) ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

export class ManagementServer {
  readonly registry = new StatusRegistry();
  private grpcServer: grpc.Server | undefined;
  private httpServer: http.Server | undefined;

  constructor(readonly store: MeshStore) {}

  /** Binds the ADS server; resolves with the bound address (port 0 picks a free one). */
  listenAds(addr: Bound): Promise<Bound> {
    const server = new grpc.Server();
    server.addService(adsDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Msg, Msg>) => void new SotwStream(call, this.store, this.registry),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Msg, Msg>) => void new DeltaStream(call, this.store, this.registry),
    });
    this.grpcServer = server;
    return new Promise((resolve, reject) => {
      server.bindAsync(hostPort(addr), grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(err);
        else resolve({ host: addr.host, port });
      });
    });
  }

  /** Binds the status server: GET /status is JSON describing the mesh and every stream. */
  listenStatus(addr: Bound): Promise<Bound> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/status') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try GET /status\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.statusJson());
    });
    this.httpServer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve({ host: addr.host, port: (server.address() as net.AddressInfo).port });
      });
    });
  }

  snapshot(): { mesh: unknown; streams: unknown[] } {
    return { mesh: this.meshStatus(), streams: this.streamsStatus() };
  }

  /**
   * The body of GET /status: JSON.stringify(snapshot(), null, 2) plus a newline. The mesh
   * part (every resource's version: 10,000 entries for a 5,000-cluster mesh) changes only on
   * a reload, so its text is kept per mesh state; only the streams are serialised per request.
   */
  statusJson(): string {
    const s = this.store.current;
    const err = this.store.lastError;
    let c = this.meshJsonCache;
    if (c === undefined || c.state !== s || c.error !== err) {
      // Nested one level in the body: indent every line after the first by two more spaces.
      c = { state: s, error: err, text: JSON.stringify(this.meshStatus(), null, 2).replace(/\n/g, '\n  ') };
      this.meshJsonCache = c;
    }
    const streams = JSON.stringify(this.streamsStatus(), null, 2).replace(/\n/g, '\n  ');
    return `{\n  "mesh": ${c.text},\n  "streams": ${streams}\n}\n`;
  }

  private meshJsonCache: { state: MeshState; error: ReloadError | undefined; text: string } | undefined;

  private meshStatus(): unknown {
    const s = this.store.current;
    return {
      file: this.store.file,
      generation: s.generation,
      digest: s.mesh.digest,
      loaded_at: s.loadedAt,
      groups: [...s.mesh.groups, s.mesh.fallback].map((g) => ({
        label: g.label,
        match: g.match,
        resources: Object.fromEntries([...g.resources].map(([url, m]) => [url, Object.fromEntries([...m.values()].map((r) => [r.name, r.version]))])),
      })),
      last_reload_error: this.store.lastError,
    };
  }

  private streamsStatus(): unknown[] {
    return this.registry.list().map((st) => ({ ...st, types: Object.values(st.types) }));
  }

  /** Stops accepting, ends open streams, closes the status server. */
  async close(): Promise<void> {
    const g = this.grpcServer;
    const h = this.httpServer;
    await Promise.all([
      g ? new Promise<void>((r) => {
        const t = setTimeout(() => { g.forceShutdown(); r(); }, 1000);
        g.tryShutdown(() => { clearTimeout(t); r(); });
      }) : undefined,
      h ? new Promise<void>((r) => { h.close(() => r()); h.closeAllConnections(); }) : undefined,
    ]);
    log.debug('management server closed');
  }
}
