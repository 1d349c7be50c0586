// The proxy configured over ADS by the reference control plane (both real CLIs): the
// initial fetch, an endpoint move (EDS), a route change (RDS, no drain), a cluster the
// proxy rejects (NACK with its name while the good ones apply) and how /config_dump shows
// it all (dynamic resources with versions, the rejected one's error_state), a listener
// removal, steady traffic through a config change every 100 ms with zero failed requests,
// and steady traffic through a control-plane SIGKILL and restart on the same port.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { once } from 'node:events';
import { HttpBackend, Proxy, curl, freePort, sleep, startHttpBackend, startProxy, waitFor } from './harness';
import { ControlPlane, adsBootstrap, keptConnection, startControlPlane } from './xds_helpers';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

function mesh(o: { listenerPort: number; backendPort: number; extraRoute?: object; extraClusters?: object[]; noListener?: boolean }) {
  const routes: object[] = [];
  if (o.extraRoute) routes.push(o.extraRoute);
  routes.push({ match: { prefix: '/' }, route: { cluster: 'web' } });
  return {
    groups: [
      {
        match: { node_id: 'sidecar-1' },
        listeners: o.noListener
          ? []
          : [
              {
                name: 'ingress',
                address: { socket_address: { address: '127.0.0.1', port_value: o.listenerPort } },
                filter_chains: [
                  {
                    filters: [
                      {
                        name: 'envoy.filters.network.http_connection_manager',
                        typed_config: {
                          '@type': HCM,
                          stat_prefix: 'xds_http',
                          rds: { route_config_name: 'routes', config_source: { ads: {}, resource_api_version: 'V3' } },
                          http_filters: [ROUTER],
                        },
                      },
                    ],
                  },
                ],
              },
            ],
        route_configurations: [{ name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes }] }],
        clusters: [
          {
            name: 'web',
            type: 'EDS',
            connect_timeout: '1s',
            eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
          },
          ...(o.extraClusters ?? []),
        ],
        cluster_load_assignments: [
          {
            cluster_name: 'web',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: o.backendPort } } } }] }],
          },
        ],
      },
    ],
  };
}


/** Four keep-alive clients requesting /x back to back until stopped; counts what failed. */
function steadyLoad(port: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const counts = { ok: 0, failed: 0 };
  const failures = new Map<number, number>();
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const status = await new Promise<number>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/x', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
      });
      if (status === 200) counts.ok++;
      else {
        counts.failed++;
        failures.set(status, (failures.get(status) ?? 0) + 1);
      }
    }
  };
  const loops = [loop(), loop(), loop(), loop()];
  return {
    counts,
    /** status → count of the failed requests (0: the connection failed). */
    failures: () => JSON.stringify([...failures]),
    async stop(): Promise<void> {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** True when the control plane's /status has a stream from node sidecar-1 over `api` that ACKed something. */
function ackedStream(status: any, api: 'GRPC' | 'DELTA_GRPC'): boolean {
  return (status.streams ?? []).some((s: any) =>
    s.node_id === 'sidecar-1' && s.api === (api === 'GRPC' ? 'sotw' : 'delta') && Object.values(s.types ?? {}).some((t: any) => t.last_acked_version !== undefined));
}

async function backendOf(port: number, path = '/x'): Promise<string> {
  const r = await curl([`http://127.0.0.1:${port}${path}`]);
  if (r.status !== 200) return `status ${r.status}`;
  return JSON.parse(r.body.toString()).backend;
}

for (const api of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`proxy over ADS (${api})`, () => {
    let a: HttpBackend;
    let b: HttpBackend;
    let cp: ControlPlane;
    let proxy: Proxy;
    let listenerPort: number;

    before(async () => {
      a = await startHttpBackend('a');
      b = await startHttpBackend('b');
      listenerPort = await freePort();
      cp = await startControlPlane(mesh({ listenerPort, backendPort: a.port }));
      proxy = await startProxy(adsBootstrap({ nodeId: 'sidecar-1', api, adsPort: cp.adsPort }), { listeners: [] });
      await waitFor('the xDS listener to accept', async () => (await backendOf(listenerPort)) === 'a', { attempts: 100, intervalMs: 50 });
    });

    after(async () => {
      await proxy?.stop();
    });

    test('initial fetch: listener, routes (RDS), cluster (CDS) and endpoints (EDS) from the control plane', async () => {
      assert.equal(await backendOf(listenerPort), 'a');
      const dump = JSON.parse((await proxy.admin('/config_dump')).body);
      const clusters = dump.configs.find((c: any) => c['@type'].endsWith('ClustersConfigDump'));
      assert.ok((clusters.dynamic_active_clusters ?? []).some((c: any) => c.cluster.name === 'web'), 'web is a dynamic cluster');
      const st = await cp.status();
      assert.ok(JSON.stringify(st).includes('sidecar-1'), 'the control plane sees the proxy as node sidecar-1');
      // (The mesh's group match names sidecar-1 too: the stream itself is the proof.)
      assert.ok(ackedStream(st, api), `a stream from node sidecar-1 that ACKed: ${JSON.stringify(st.streams)}`);
    });

    test('EDS: moving the endpoint moves the traffic, with no failed request', async () => {
      cp.writeMesh(mesh({ listenerPort, backendPort: b.port }));
      await waitFor('traffic to reach b', async () => (await backendOf(listenerPort)) === 'b', { attempts: 100, intervalMs: 50 });
    });

    test('RDS: a new route applies to new requests on the same listener', async () => {
      cp.writeMesh(mesh({ listenerPort, backendPort: b.port, extraRoute: { match: { prefix: '/direct' }, direct_response: { status: 203, body: { inline_string: 'from rds' } } } }));
      await waitFor('the new route', async () => (await curl([`http://127.0.0.1:${listenerPort}/direct`])).status === 203, { attempts: 100, intervalMs: 50 });
    });

    test('a push that adds a cluster leaves the unchanged ones as they are: connections and versions stay', async () => {
      // SotW resends every cluster and listener on each push; Envoy leaves a resource whose config did not change.
      const direct = { match: { prefix: '/direct' }, direct_response: { status: 203, body: { inline_string: 'from rds' } } };
      // A client keep-alive connection held across the push (a listener update would drain it).
      const client = keptConnection(listenerPort);
      try {
        assert.equal((await client.get()).status, 200);
        for (let i = 0; i < 3; i++) assert.equal(await backendOf(listenerPort), 'b');
        const cxBefore = (await proxy.stats()).get('cluster.web.upstream_cx_total');
        const versions = async () => {
          const dump = JSON.parse((await proxy.admin('/config_dump')).body);
          const section = (t: string) => dump.configs.find((c: any) => c['@type'].endsWith(t));
          const web = (section('ClustersConfigDump').dynamic_active_clusters ?? []).find((c: any) => c.cluster?.name === 'web');
          const ingress = (section('ListenersConfigDump').dynamic_listeners ?? []).find((l: any) => l.name === 'ingress');
          return { web: web?.version_info, ingress: ingress?.active_state?.version_info };
        };
        const versionsBefore = await versions();
        const extra = { name: 'extra', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'extra', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: a.port } } } }] }] } };
        cp.writeMesh(mesh({ listenerPort, backendPort: b.port, extraRoute: direct, extraClusters: [extra] }));
        await waitFor('the extra cluster', async () => (await proxy.admin('/clusters')).body.includes('extra::'), { attempts: 100, intervalMs: 50 });
        const kept = await client.get();
        // A draining listener answers with `connection: close`; HTTP/1.1 keep-alive needs no header.
        assert.deepEqual(kept, { status: 200, connection: undefined, reused: true }, 'the client connection from before the push is still served, not drained');
        for (let i = 0; i < 3; i++) assert.equal(await backendOf(listenerPort), 'b');
        assert.equal((await proxy.stats()).get('cluster.web.upstream_cx_total'), cxBefore, 'web kept its pooled upstream connections');
        assert.deepEqual(await versions(), versionsBefore, 'neither web nor the listener was updated');
      } finally {
        client.close();
      }
    });

    test('a cluster the proxy cannot take is NACKed by name while the good resources apply', async () => {
      // A Maglev table size that is not prime: Envoy rejects it, and so does Switchyard.
      const bad = { name: 'bad', type: 'STATIC', lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 65536 }, connect_timeout: '1s' };
      cp.writeMesh(mesh({ listenerPort, backendPort: a.port, extraClusters: [bad] }));
      await waitFor('the NACK at the control plane', async () => JSON.stringify(await cp.status()).includes('must be prime'), { attempts: 100, intervalMs: 50 });
      // The good update in the same push (the endpoint back to a) applied.
      await waitFor('traffic back on a', async () => (await backendOf(listenerPort)) === 'a', { attempts: 100, intervalMs: 50 });
      const clusters = (await proxy.admin('/clusters')).body;
      assert.ok(!clusters.includes('bad::'), 'the rejected cluster is not in use');
    });

    test('/config_dump shows the dynamic resources with their versions and the rejected cluster with its error_state', async () => {
      // Still the mesh of the NACK test: `bad` (non-prime Maglev table) is in it, the rest is good.
      const dump = JSON.parse((await proxy.admin('/config_dump')).body);
      const section = (t: string) => dump.configs.find((c: any) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`);

      const listeners = section('ListenersConfigDump');
      assert.equal(typeof listeners.version_info, 'string');
      assert.ok(listeners.version_info.length > 0, 'ListenersConfigDump.version_info is the last accepted LDS version');
      const ingress = (listeners.dynamic_listeners ?? []).find((l: any) => l.name === 'ingress');
      assert.ok(ingress, `ingress is a dynamic listener: ${JSON.stringify(listeners)}`);
      assert.ok(ingress.active_state.version_info?.length > 0, 'the listener carries its version');
      assert.equal(ingress.active_state.listener['@type'], 'type.googleapis.com/envoy.config.listener.v3.Listener');
      assert.equal(ingress.active_state.listener.name, 'ingress');
      assert.match(ingress.active_state.last_updated, /^\d{4}-\d\d-\d\dT/);
      assert.equal(ingress.error_state, undefined, 'the listener was accepted');

      const routes = section('RoutesConfigDump');
      const rc = (routes.dynamic_route_configs ?? []).find((r: any) => r.route_config?.name === 'routes');
      assert.ok(rc, `the RDS route config 'routes' is dynamic: ${JSON.stringify(routes)}`);
      assert.equal(rc.route_config['@type'], 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration');
      assert.ok(rc.version_info?.length > 0, 'the route config carries its version');
      assert.equal(rc.route_config.virtual_hosts[0].routes.at(-1).route.cluster, 'web');

      const clusters = section('ClustersConfigDump');
      assert.ok(clusters.version_info?.length > 0, 'ClustersConfigDump.version_info is the last accepted CDS version');
      const web = (clusters.dynamic_active_clusters ?? []).find((c: any) => c.cluster?.name === 'web');
      assert.ok(web, 'web is a dynamic cluster');
      assert.ok(web.version_info?.length > 0, 'web carries its version');
      assert.equal(web.error_state, undefined, 'web was accepted');
      // `bad` was never accepted: an entry with only its error_state (DynamicCluster has no
      // name field; the rejected resource in failed_configuration names it).
      const bad = (clusters.dynamic_active_clusters ?? []).filter((c: any) => c.error_state);
      assert.equal(bad.length, 1, `one rejected cluster: ${JSON.stringify(clusters.dynamic_active_clusters)}`);
      assert.equal(bad[0].cluster, undefined, 'the rejected cluster is not active');
      assert.equal(bad[0].error_state.failed_configuration.name, 'bad');
      assert.equal(bad[0].error_state.failed_configuration['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
      assert.match(bad[0].error_state.details, /maglev_lb_config\.table_size/);
      assert.match(bad[0].error_state.last_update_attempt, /^\d{4}-\d\d-\d\dT/);
      assert.ok(bad[0].error_state.version_info?.length > 0, 'the rejected version is recorded');

      const withEds = JSON.parse((await proxy.admin('/config_dump?include_eds')).body);
      const eps = withEds.configs.find((c: any) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump');
      const cla = (eps?.dynamic_endpoint_configs ?? []).find((e: any) => e.endpoint_config?.cluster_name === 'web');
      assert.ok(cla, `web's ClusterLoadAssignment is a dynamic endpoint config: ${JSON.stringify(eps)}`);
      assert.equal(cla.endpoint_config['@type'], 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment');
      assert.ok(cla.version_info?.length > 0, 'the endpoints carry their version');
      assert.equal(cla.endpoint_config.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, a.port);
    });

    test('a config push every 100 ms for 30 s under steady load: zero failed requests', async () => {
      const load = steadyLoad(listenerPort);
      for (let i = 0; i < 300; i++) {
        // Alternate the endpoint and the route table so EDS and RDS both churn.
        cp.writeMesh(mesh({ listenerPort, backendPort: i % 2 ? a.port : b.port, extraRoute: { match: { prefix: `/v${i}` }, route: { cluster: 'web' } } }));
        await sleep(100);
      }
      await load.stop();
      const { ok, failed } = load.counts;
      assert.ok(ok > 100, `requests went through (${ok})`);
      assert.equal(failed, 0, `${failed} requests failed during the churn (status → count: ${load.failures()})\n${proxy.stderr().slice(-1500)}`);
    });

    test('control plane SIGKILLed and restarted on the same port under steady load: the last good config keeps serving, the proxy reconnects by itself', async () => {
      const adsPort = cp.adsPort;
      cp.writeMesh(mesh({ listenerPort, backendPort: a.port }));
      await waitFor('traffic on a', async () => (await backendOf(listenerPort)) === 'a', { attempts: 100, intervalMs: 50 });
      const load = steadyLoad(listenerPort);
      try {
        await sleep(300);
        const old = cp.child;
        const exited = once(old, 'exit');
        assert.ok(old.kill('SIGKILL'), 'the control plane was signalled');
        await exited;
        // No control plane for ~2 s: the proxy keeps serving what it last accepted.
        const before = load.counts.ok;
        await sleep(2000);
        assert.ok(load.counts.ok - before > 20, `requests went through while the control plane was down (${load.counts.ok - before})`);
        assert.equal(load.counts.failed, 0, `requests failed while the control plane was down: ${load.failures()}\n${proxy.stderr().slice(-1500)}`);

        // Back on the same port with the same mesh file, as a restarted deployment would be.
        cp = await startControlPlane(mesh({ listenerPort, backendPort: a.port }), [], { adsPort, meshFile: cp.meshFile });
        assert.equal(cp.adsPort, adsPort, 'the new control plane serves the port the proxy knows');
        // Reconnect backoff (500 ms base, full jitter, doubling) after ~2 s down: bounded at 30 s.
        await waitFor('the proxy to reconnect to the new control plane and ACK', async () => ackedStream(await cp.status(), api), { attempts: 300, intervalMs: 100 });
        cp.writeMesh(mesh({ listenerPort, backendPort: b.port }));
        await waitFor('the mesh change (endpoint to b) to apply', async () => (await backendOf(listenerPort)) === 'b', { attempts: 300, intervalMs: 100 });
        await sleep(300);
      } finally {
        await load.stop();
      }
      const { ok, failed } = load.counts;
      assert.ok(ok > 100, `requests went through (${ok})`);
      assert.equal(failed, 0, `${failed} requests failed across the restart (status → count: ${load.failures()})\n${proxy.stderr().slice(-1500)}`);
    });

    test('removing the listener drains it and stops accepting', async () => {
      cp.writeMesh(mesh({ listenerPort, backendPort: a.port, noListener: true }));
      await waitFor('the listener to go away', async () => {
        const r = await curl([`http://127.0.0.1:${listenerPort}/x`, '--max-time', '2']);
        return r.status === 0 || r.exitCode !== 0;
      }, { attempts: 200, intervalMs: 50 });
    });
  });
}
