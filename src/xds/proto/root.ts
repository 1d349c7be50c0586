// Loads Envoy's .proto files (shipped under @grpc/grpc-js-xds/deps, see design.md) into
// one protobufjs Root, once, on first use. keepCase keeps proto field names
// (snake_case), which is what the canonical form and error paths use.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { log } from '../../log';

// Entry files; their imports are pulled in transitively. Extensions Switchyard decodes
// must be listed here so an Any of that type can be unpacked (an unlisted type decodes
// to `{ '@type', '@unknown': true }` and the extension registry decides).
export const PROTO_FILES: readonly string[] = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/set_filter_state/v3/set_filter_state.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/original_src/v3/original_src.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'google/protobuf/field_mask.proto',
  'google/protobuf/empty.proto',
];

/** Resolves the deps dir from the installed package, so it works from src/ (tsx) and dist/. */
function depsDir(): string {
  const pkg = require.resolve('@grpc/grpc-js-xds/package.json');
  return path.join(path.dirname(pkg), 'deps');
}

function includeDirs(): string[] {
  const deps = depsDir();
  const pbjs = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    path.join(deps, 'envoy-api'),
    path.join(deps, 'xds'),
    path.join(deps, 'googleapis'),
    path.join(deps, 'protoc-gen-validate'),
    pbjs,
  ];
}

let root: protobuf.Root | undefined;
let loadMs = 0;

/** The Root with every file in PROTO_FILES loaded and resolved (loads synchronously on first call). */
export function getRoot(): protobuf.Root {
  if (root) return root;
  const t0 = process.hrtime.bigint();
  const dirs = includeDirs();
  const r = new protobuf.Root();
  r.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    // google/protobuf/{any,duration,struct,...}.proto come from protobufjs's bundled
    // definitions (protobuf.common), which it consults before reading a file.
    for (const d of dirs) {
      const p = path.join(d, target);
      if (fsExists(p)) return p;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  r.loadSync(PROTO_FILES as string[], { keepCase: true });
  r.resolveAll();
  loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  log.debug('loaded envoy protos', { files: PROTO_FILES.length, ms: Math.round(loadMs) });
  root = r;
  return r;
}

/** Milliseconds the first getRoot() took (0 before it ran). */
export function protoLoadMs(): number {
  return loadMs;
}

const typeCache = new Map<string, protobuf.Type | null>();

/** The message type by full name ('envoy.config.cluster.v3.Cluster', a leading '.' is fine), or undefined. */
export function lookupType(fullName: string): protobuf.Type | undefined {
  const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
  let t = typeCache.get(name);
  if (t === undefined) {
    const found = getRoot().lookup(name);
    t = found instanceof protobuf.Type ? found : null;
    typeCache.set(name, t);
  }
  return t ?? undefined;
}

/** Like lookupType but throws; for names the code itself relies on. */
export function mustLookupType(fullName: string): protobuf.Type {
  const t = lookupType(fullName);
  if (!t) throw new Error(`proto type ${fullName} is not loaded`);
  return t;
}

const existsCache = new Map<string, boolean>();
function fsExists(p: string): boolean {
  let e = existsCache.get(p);
  if (e === undefined) {
    e = fs.existsSync(p);
    existsCache.set(p, e);
  }
  return e;
}
