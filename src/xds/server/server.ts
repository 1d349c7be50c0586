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
import { MeshStore } from './store';

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
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.snapshot(), null, 2) + '\n');
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

  snapshot(): unknown {
    const s = this.store.current;
    return {
      mesh: {
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
      },
      streams: this.registry.list().map((st) => ({ ...st, types: Object.values(st.types) })),
    };
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
