// Helpers for the management-server tests: start `switchyard control-plane` as a user would,
// read /status, and a small hand-written ADS client (SotW and Delta) over @grpc/grpc-js that
// encodes with the protobufjs types of Envoy's protos. Every process goes through the
// harness's trackProcess, so it is killed by PID when the test file ends.
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CLI, REPO_ROOT, tempDir, trackProcess } from './harness';
import { lookupType } from '../../src/xds/proto/root';
import { fromBinaryAny } from '../../src/xds/proto/binary';

export const TYPE = {
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RDS: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  EDS: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  SDS: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
};

export interface ControlPlane {
  child: ChildProcess;
  meshFile: string;
  adsPort: number;
  statusPort: number;
  /** Everything the process wrote to stderr so far. */
  logs(): string;
  writeMesh(mesh: unknown): void;
  status(): Promise<any>;
}

export interface ControlPlaneOptions {
  /**
   * Serve ADS on this fixed port (`--address 127.0.0.1:PORT`) instead of a free one: how a
   * restarted control plane comes back where its sidecars look for it. A port still held
   * for a moment by a process that just died is retried (bounded) until it is free.
   */
  adsPort?: number;
  /** Serve this mesh file (a restart keeps its file) instead of a new temp one; `mesh` is written to it. */
  meshFile?: string;
}

/** Starts the real CLI on a temp mesh file (JSON is YAML); resolves once it logs `listening`. */
export async function startControlPlane(mesh: unknown, extraArgs: string[] = [], opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const meshFile = opts.meshFile ?? path.join(tempDir('switchyard-xds-'), 'mesh.yaml');
  // Written atomically (temp file + rename), as editors and config tools do, so the
  // server's watcher never reads a half-written file.
  const write = (m: unknown) => {
    fs.writeFileSync(meshFile + '.tmp', typeof m === 'string' ? m : JSON.stringify(m, null, 2));
    fs.renameSync(meshFile + '.tmp', meshFile);
  };
  write(mesh);
  const address = `127.0.0.1:${opts.adsPort ?? 0}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(meshFile, address, extraArgs, write);
    } catch (e) {
      const inUse = /EADDRINUSE|address already in use/i.test(String(e));
      if (opts.adsPort === undefined || !inUse || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function launch(meshFile: string, address: string, extraArgs: string[], write: (m: unknown) => void): Promise<ControlPlane> {
  const child = trackProcess(
    spawn(process.execPath, [CLI, 'control-plane', '-c', meshFile, '--address', address, '--status-address', '127.0.0.1:0', ...extraArgs], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  child.stdout!.resume();
  // Settles on the `listening` line, or as soon as the process ends (a port in use, a bad
  // mesh), so a failed start is reported at once; bounded either way.
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const re = /listening xds=127\.0\.0\.1:(\d+) status=http:\/\/127\.0\.0\.1:(\d+)\/status/;
    const done = () => {
      clearTimeout(timer);
      child.stderr!.off('data', check);
      child.off('close', onClose);
    };
    const check = () => {
      const r = re.exec(err);
      if (r) {
        done();
        resolve(r);
      }
    };
    const onClose = (code: number | null) => {
      done();
      reject(new Error(`control-plane exited ${code}:\n${err}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for control-plane to log "listening":\n${err}`));
    }, 10_000);
    child.stderr!.on('data', check);
    child.on('close', onClose);
    check();
  });
  const statusPort = Number(m[2]);
  return {
    child, meshFile, adsPort: Number(m[1]), statusPort,
    logs: () => err,
    writeMesh: write,
    status: () => getJson(`http://127.0.0.1:${statusPort}/status`),
  };
}

export function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`bad JSON from ${url} (${res.statusCode}): ${body}`));
        }
      });
    }).on('error', reject);
  });
}

type Msg = { [k: string]: any };

/** One ADS stream with a queue of responses; next() waits (bounded) for the next one. */
export class AdsStream {
  private readonly queue: Msg[] = [];
  private waiter: ((m: Msg) => void) | undefined;
  private failure: Error | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Msg, Msg>;

  constructor(port: number, readonly api: 'sotw' | 'delta') {
    const [method, reqName, resName] = api === 'sotw'
      ? ['StreamAggregatedResources', 'DiscoveryRequest', 'DiscoveryResponse']
      : ['DeltaAggregatedResources', 'DeltaDiscoveryRequest', 'DeltaDiscoveryResponse'];
    const req = lookupType(`envoy.service.discovery.v3.${reqName}`)!;
    const res = lookupType(`envoy.service.discovery.v3.${resName}`)!;
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = this.client.makeBidiStreamRequest(
      `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`,
      (m: Msg) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      (b: Buffer) => res.toObject(res.decode(b), { arrays: true, objects: true, longs: Number }) as Msg,
    );
    this.call.on('data', (m: Msg) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.queue.push(m);
    });
    this.call.on('error', (e) => (this.failure = e));
  }

  send(m: Msg): void {
    this.call.write(m);
  }

  /** The next response; fails after `ms` (a bound, not a timing assertion). */
  next(ms = 10_000): Promise<Msg> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ${this.api} response within ${ms} ms`));
      }, ms);
      this.waiter = (m) => {
        clearTimeout(t);
        resolve(m);
      };
    });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
    this.client.close();
  }
}

/** Decodes a SotW response's resources into canonical objects. */
export function decodeAll(res: Msg): Msg[] {
  return (res.resources as Msg[]).map((a) => fromBinaryAny(a.type_url, a.value)!);
}

/** The names in a SotW response (ClusterLoadAssignments are named by cluster_name). */
export function sotwNames(res: Msg): string[] {
  return decodeAll(res).map((r) => r.name ?? r.cluster_name).sort();
}

/** name → version of a delta response's resources. */
export function deltaVersions(res: Msg): Record<string, string> {
  return Object.fromEntries((res.resources as Msg[]).map((r) => [r.name, r.version]));
}

export function claPort(cla: Msg): number {
  return cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value;
}

/**
 * The state-of-the-world ADS service with raw response bytes, for test servers that send what
 * they like (including garbage); requests arrive decoded as plain objects.
 */
export function rawAdsService(): grpc.ServiceDefinition {
  const Req = lookupType('envoy.service.discovery.v3.DiscoveryRequest')!;
  return {
    StreamAggregatedResources: {
      path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      requestStream: true, responseStream: true,
      requestSerialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), { arrays: true }), responseDeserialize: (b: Buffer) => b,
    },
  } as grpc.ServiceDefinition;
}

/**
 * One client keep-alive connection to 127.0.0.1:`port`, held across config pushes: get() sends
 * GET /x on it and reports the status, the Connection header (a draining listener sends
 * `close`) and whether the request went on the connection already open.
 */
export function keptConnection(port: number): { get(): Promise<{ status: number; connection: string | undefined; reused: boolean }>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get: () => new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/x', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reused: req.reusedSocket }));
      });
      req.on('error', reject);
    }),
    close: () => agent.destroy(),
  };
}

// ---------------------------------------------------------------- mesh builders (shared by the xDS tests)

export function cla(name: string, port: number) {
  return { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] };
}
export function edsCluster(name: string, timeout = '1s') {
  return { name, type: 'EDS', connect_timeout: timeout, eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } };
}
export function routeConfig(name: string, clusterName: string) {
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: clusterName } }] }] };
}
/** A listener whose connection manager takes route table `rds` from `configSource` (ADS by default). */
export function rdsListener(name: string, port: number, rds: string, configSource: object = { ads: {}, resource_api_version: 'V3' }) {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: name,
        rds: { route_config_name: rds, config_source: configSource },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    }] }],
  };
}

/**
 * A proxy bootstrap that takes LDS and CDS over one ADS stream to the reference control plane
 * on 127.0.0.1:`adsPort` (a static HTTP/2 cluster named in envoy_grpc), for startProxy().
 */
export function adsBootstrap(o: { nodeId: string; api: 'GRPC' | 'DELTA_GRPC'; adsPort: number; initialFetchTimeout?: string }): string {
  const fetch = o.initialFetchTimeout === undefined ? '' : `, initial_fetch_timeout: ${o.initialFetchTimeout}`;
  return `
node: { id: ${o.nodeId}, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
dynamic_resources:
  ads_config:
    api_type: ${o.api}
    transport_api_version: V3
    grpc_services:
    - envoy_grpc: { cluster_name: xds_cluster }
  lds_config: { ads: {}, resource_api_version: V3${fetch} }
  cds_config: { ads: {}, resource_api_version: V3${fetch} }
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${o.adsPort} } } }
`;
}
