// The proxy configured over ADS by the reference control plane (both real CLIs): the
// initial fetch, an endpoint move (EDS), a route change (RDS, no drain), a cluster the
// proxy rejects (NACK with its name while the good ones apply), a listener removal, and
// steady traffic through a config change every 100 ms with zero failed requests.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { HttpBackend, Proxy, curl, freePort, sleep, startHttpBackend, startProxy, waitFor } from './harness';
import { ControlPlane, startControlPlane } from './xds_helpers';

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

function bootstrap(api: 'GRPC' | 'DELTA_GRPC', adsPort: number): string {
  return `
node: { id: sidecar-1, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
dynamic_resources:
  ads_config:
    api_type: ${api}
    transport_api_version: V3
    grpc_services:
    - envoy_grpc: { cluster_name: xds_cluster }
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
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
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${adsPort} } } }
`;
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
      proxy = await startProxy(bootstrap(api, cp.adsPort), { listeners: [] });
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
    });

    test('EDS: moving the endpoint moves the traffic, with no failed request', async () => {
      cp.writeMesh(mesh({ listenerPort, backendPort: b.port }));
      await waitFor('traffic to reach b', async () => (await backendOf(listenerPort)) === 'b', { attempts: 100, intervalMs: 50 });
    });

    test('RDS: a new route applies to new requests on the same listener', async () => {
      cp.writeMesh(mesh({ listenerPort, backendPort: b.port, extraRoute: { match: { prefix: '/direct' }, direct_response: { status: 203, body: { inline_string: 'from rds' } } } }));
      await waitFor('the new route', async () => (await curl([`http://127.0.0.1:${listenerPort}/direct`])).status === 203, { attempts: 100, intervalMs: 50 });
    });

    test('a cluster the proxy cannot take is NACKed by name while the good resources apply', async () => {
      const bad = { name: 'bad', type: 'STATIC', lb_policy: 'MAGLEV', connect_timeout: '1s' };
      cp.writeMesh(mesh({ listenerPort, backendPort: a.port, extraClusters: [bad] }));
      await waitFor('the NACK at the control plane', async () => JSON.stringify(await cp.status()).includes('MAGLEV'), { attempts: 100, intervalMs: 50 });
      // The good update in the same push (the endpoint back to a) applied.
      await waitFor('traffic back on a', async () => (await backendOf(listenerPort)) === 'a', { attempts: 100, intervalMs: 50 });
      const clusters = (await proxy.admin('/clusters')).body;
      assert.ok(!clusters.includes('bad::'), 'the rejected cluster is not in use');
    });

    test('a config push every 100 ms for 30 s under steady load: zero failed requests', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      let ok = 0;
      let failed = 0;
      const failures = new Map<number, number>();
      let stop = false;
      const loop = async () => {
        while (!stop) {
          const status = await new Promise<number>((resolve) => {
            const req = http.get({ host: '127.0.0.1', port: listenerPort, path: '/x', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            });
            req.on('error', () => resolve(0));
          });
          if (status === 200) ok++;
          else {
            failed++;
            failures.set(status, (failures.get(status) ?? 0) + 1);
          }
        }
      };
      const loops = [loop(), loop(), loop(), loop()];
      for (let i = 0; i < 300; i++) {
        // Alternate the endpoint and the route table so EDS and RDS both churn.
        cp.writeMesh(mesh({ listenerPort, backendPort: i % 2 ? a.port : b.port, extraRoute: { match: { prefix: `/v${i}` }, route: { cluster: 'web' } } }));
        await sleep(100);
      }
      stop = true;
      await Promise.all(loops);
      agent.destroy();
      assert.ok(ok > 100, `requests went through (${ok})`);
      assert.equal(failed, 0, `${failed} requests failed during the churn (status → count: ${JSON.stringify([...failures])})\n${proxy.stderr().slice(-1500)}`);
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
