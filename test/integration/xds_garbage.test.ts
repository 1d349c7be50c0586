// A management server that sends garbage, end to end through the proxy process (the real
// CLI): a gRPC ADS server written here with @grpc/grpc-js and identity serializers, so it
// writes whatever bytes the test wants. It first serves a good config (a listener whose
// routes come over RDS, a static cluster to a real backend); then, one by one, it sends a
// truncated message, an undecodable Any, a resource of an unknown type, a resource of the
// wrong type, duplicate names, a response for a type nobody subscribed (a nonce for
// nothing), and a listener naming a route table that never comes. After each, the test
// checks what the server received back (a NACK whose error_detail names the resource and
// the field path, or a new stream after a reset), that the proxy process is still running,
// and that curl through it still gets the last good config.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { HttpBackend, Proxy, curl, freePort, startHttpBackend, startProxy, waitFor } from './harness';
import { toAny } from '../../src/xds/proto/binary';
import { mustLookupType } from '../../src/xds/proto/root';
import { TYPE, keptConnection, rawAdsService } from './xds_helpers';

const Res = mustLookupType('envoy.service.discovery.v3.DiscoveryResponse');
const encode = (m: object) => Buffer.from(Res.encode(Res.fromObject(m)).finish());
const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

type Request = { [k: string]: any; stream: number };

/** The scripted ADS server: answers each stream's first request per type with the good config. */
class GarbageServer {
  readonly requests: Request[] = [];
  streams = 0;
  private call: grpc.ServerDuplexStream<any, Buffer> | null = null;
  private readonly server = new grpc.Server();
  port = 0;
  good: Record<string, { version: string; resources: Array<{ type_url: string; value: Uint8Array }> }> = {};

  async start(): Promise<void> {
    this.server.addService(rawAdsService(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<any, Buffer>) => {
        const stream = ++this.streams;
        this.call = call;
        call.on('error', () => undefined);
        call.on('data', (req: any) => {
          this.requests.push({ ...req, stream });
          // A stream's first request of a type (no nonce yet): the good config of that type.
          const g = this.good[req.type_url];
          if (!req.response_nonce && g) this.send({ type_url: req.type_url, version_info: g.version, nonce: `s${stream}-${req.type_url.split('.').pop()}`, resources: g.resources });
        });
      },
    });
    this.port = await new Promise<number>((res, rej) => this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  }

  send(m: object): void {
    this.raw(encode(m));
  }

  raw(b: Buffer): void {
    this.call!.write(b);
  }

  /** The request answering `nonce` (bounded wait). */
  answer(nonce: string): Promise<Request> {
    return waitFor(`an answer to nonce ${nonce}`, () => this.requests.find((r) => r.response_nonce === nonce), { attempts: 200, intervalMs: 25 });
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const cluster = (name: string, port: number) => toAny('envoy.config.cluster.v3.Cluster', {
  name, type: 'STATIC', connect_timeout: { seconds: 1 },
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
});
const listener = (port: number, rds: string) => toAny('envoy.config.listener.v3.Listener', {
  name: 'ingress',
  address: { socket_address: { address: '127.0.0.1', port_value: port } },
  filter_chains: [{ filters: [{
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'ingress',
      rds: { route_config_name: rds, config_source: { ads: {} } },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    },
  }] }],
});
const routes = toAny('envoy.config.route.v3.RouteConfiguration', {
  name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] }],
});

let backend: HttpBackend;
let ads: GarbageServer;
let proxy: Proxy;
let listenerPort: number;

before(async () => {
  backend = await startHttpBackend('good');
  listenerPort = await freePort();
  ads = new GarbageServer();
  ads.good = {
    [TYPE.CDS]: { version: 'v1', resources: [cluster('web', backend.port)] },
    [TYPE.LDS]: { version: 'v1', resources: [listener(listenerPort, 'routes')] },
    [TYPE.RDS]: { version: 'v1', resources: [routes] },
  };
  await ads.start();
  proxy = await startProxy(`
node: { id: garbage-1, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{ google_grpc: { target_uri: "127.0.0.1:${ads.port}", stat_prefix: ads } }]
  lds_config: { ads: {}, initial_fetch_timeout: 60s }
  cds_config: { ads: {}, initial_fetch_timeout: 60s }
`, { listeners: [listenerPort] });
});

after(async () => {
  await proxy?.stop();
  ads?.stop();
});

/** The last good config still serves, and the process is alive. */
async function stillServing(): Promise<void> {
  assert.ok(proxy.isRunning(), `the proxy is running\n${proxy.stderr().slice(-2000)}`);
  const r = await curl([`http://127.0.0.1:${listenerPort}/x`]);
  assert.equal(r.status, 200, `curl through the proxy: ${r.status}`);
  assert.equal(JSON.parse(r.body.toString()).backend, 'good');
}

function nackOf(r: Request, type: string): string {
  assert.equal(r.type_url, type);
  assert.ok(r.error_detail, `a NACK: ${JSON.stringify(r)}`);
  assert.equal(r.error_detail.code, 3, 'INVALID_ARGUMENT');
  assert.equal(r.version_info, 'v1', 'the NACK keeps the last accepted version');
  return r.error_detail.message;
}

test('the good config: ACKed, served', async () => {
  await stillServing();
  for (const t of [TYPE.CDS, TYPE.LDS, TYPE.RDS]) assert.ok(ads.requests.some((r) => r.type_url === t && r.version_info === 'v1' && !r.error_detail), `ACK of ${t}`);
});

test('the same listener and cluster sent again (a SotW push resends everything) change nothing: connections stay', async () => {
  const client = keptConnection(listenerPort);
  try {
    assert.equal((await client.get()).status, 200);
    const cx = (await proxy.stats()).get('cluster.web.upstream_cx_total');
    for (const t of [TYPE.CDS, TYPE.LDS]) {
      const nonce = `again-${t.split('.').pop()}`;
      ads.send({ type_url: t, version_info: 'v1', nonce, resources: ads.good[t].resources });
      const r = await ads.answer(nonce);
      assert.ok(!r.error_detail && r.version_info === 'v1', `an ACK: ${JSON.stringify(r)}`);
    }
    // A listener update would drain the connection (`connection: close`), a cluster update its pool.
    assert.deepEqual(await client.get(), { status: 200, connection: undefined, reused: true });
    assert.equal((await proxy.stats()).get('cluster.web.upstream_cx_total'), cx, 'the upstream connection was kept');
  } finally {
    client.close();
  }
});

test('a truncated message resets the stream; the new stream resubscribes from the last accepted versions', async () => {
  const before = ads.streams;
  const whole = encode({ type_url: TYPE.CDS, version_info: 'v2', nonce: 'trunc', resources: [cluster('web', backend.port), cluster('other', backend.port)] });
  // Cut inside the second resource: its length prefix runs past the end.
  ads.raw(whole.subarray(0, whole.length - 20));
  await waitFor('a new stream', () => ads.streams > before, { attempts: 200, intervalMs: 50 });
  assert.equal(ads.requests.find((r) => r.response_nonce === 'trunc'), undefined, 'nothing answers a message that did not decode');
  const first = await waitFor('the new stream\'s CDS request', () => ads.requests.find((r) => r.stream === ads.streams && r.type_url === TYPE.CDS), { attempts: 200, intervalMs: 25 });
  assert.equal(first.version_info, 'v1');
  assert.ok(ads.requests.some((r) => r.stream === ads.streams && r.node?.id === 'garbage-1'), 'the new stream carries the node');
  assert.ok(/resetting the xds stream.*undecodable DiscoveryResponse/.test(proxy.stderr()), 'the reset is logged with its reason');
  await stillServing();
});

test('an undecodable Any and a resource breaking a rule: NACK naming the index, the resource and the field path; the good one applies', async () => {
  const garbage = { type_url: TYPE.CDS, value: Buffer.from([0x0a, 0xff, 0x01]) };
  const badRule = toAny('envoy.config.cluster.v3.Cluster', { name: 'neg', type: 'STATIC', connect_timeout: { seconds: -1 } });
  ads.send({ type_url: TYPE.CDS, version_info: 'v3', nonce: 'anys', resources: [cluster('web', backend.port), garbage, badRule] });
  const msg = nackOf(await ads.answer('anys'), TYPE.CDS);
  const lines = msg.split('\n');
  assert.equal(lines.length, 2, msg);
  assert.match(lines[0], /^resources\[1\]: cannot decode Cluster: index out of range/, 'an Any that does not decode is named by its index');
  assert.equal(lines[1], 'neg: connect_timeout: value must be > 0s');
  await stillServing();
});

test('a resource of an unknown type and one of the wrong type: NACK naming the index and type_url', async () => {
  const unknown = { type_url: 'type.googleapis.com/example.NoSuchMessage', value: Buffer.from([0x0a, 0x01, 0x78]) };
  const wrong = listener(listenerPort, 'routes');
  ads.send({ type_url: TYPE.CDS, version_info: 'v4', nonce: 'types', resources: [cluster('web', backend.port), unknown, wrong] });
  const msg = nackOf(await ads.answer('types'), TYPE.CDS);
  assert.equal(msg, [
    `resources[1]: type_url: expected "${TYPE.CDS}", got "type.googleapis.com/example.NoSuchMessage"`,
    `resources[2]: type_url: expected "${TYPE.CDS}", got "${TYPE.LDS}"`,
  ].join('\n'));
  await stillServing();
});

test('duplicate names: every copy is rejected by name; the cluster keeps serving its last good version', async () => {
  ads.send({ type_url: TYPE.CDS, version_info: 'v5', nonce: 'dups', resources: [cluster('web', 1), cluster('web', 2)] });
  const msg = nackOf(await ads.answer('dups'), TYPE.CDS);
  assert.equal(msg, 'web: the name appears more than once in the response');
  await stillServing();
  const dump = JSON.parse((await proxy.admin('/config_dump')).body);
  const c = dump.configs.find((x: any) => x['@type'].endsWith('ClustersConfigDump'));
  const web = c.dynamic_active_clusters.find((x: any) => x.cluster?.name === 'web');
  // v3 and v4 were NACKed for other resources; web in them was good (gRFC A46) but the same as
  // in v1, so it was left as it was, with its version, as Envoy leaves an unchanged cluster.
  assert.equal(web.version_info, 'v1', 'web keeps the version of its last change');
  assert.equal(web.error_state.version_info, 'v5');
  assert.match(web.error_state.details, /appears more than once/);
});

test('a response for a type nobody subscribed (a nonce for nothing) is ignored: no answer, no reset', async () => {
  const streams = ads.streams;
  const secret = toAny('envoy.extensions.transport_sockets.tls.v3.Secret', { name: 's' });
  ads.send({ type_url: SECRET, version_info: 'x', nonce: 'nothing', resources: [secret] });
  ads.send({ type_url: 'type.googleapis.com/example.NoSuchType', version_info: 'x', nonce: 'nothing2', resources: [] });
  // A later, good response on the same stream is ACKed: the stream went on.
  ads.send({ type_url: TYPE.CDS, version_info: 'v6', nonce: 'after', resources: [cluster('web', backend.port)] });
  const ack = await ads.answer('after');
  assert.equal(ack.version_info, 'v6');
  assert.equal(ack.error_detail, undefined);
  assert.equal(ads.requests.find((r) => r.response_nonce === 'nothing' || r.response_nonce === 'nothing2'), undefined, 'nothing answered the unsubscribed types');
  assert.equal(ads.streams, streams, 'the stream was not reset');
  assert.match(proxy.stderr(), /ignoring a response for a type nobody watches/);
  await stillServing();
});

test('a listener naming a route table that never comes: ACKed and warming (as Envoy does); the active version keeps serving', async () => {
  ads.send({ type_url: TYPE.LDS, version_info: 'v7', nonce: 'missing-rds', resources: [listener(listenerPort, 'nope')] });
  const ack = await ads.answer('missing-rds');
  assert.equal(ack.error_detail, undefined, 'a missing route table is not an error in Envoy: the listener warms');
  // The proxy asks for the route table the new listener needs (and keeps the one in use).
  await waitFor('RDS to subscribe to nope', () => ads.requests.some((r) => r.type_url === TYPE.RDS && (r.resource_names ?? []).includes('nope')), { attempts: 200, intervalMs: 25 });
  const dump = JSON.parse((await proxy.admin('/config_dump')).body);
  const l = dump.configs.find((x: any) => x['@type'].endsWith('ListenersConfigDump')).dynamic_listeners.find((x: any) => x.name === 'ingress');
  assert.equal(l.warming_state.version_info, 'v7');
  assert.equal(l.active_state.version_info, 'v1');
  await stillServing();
});
