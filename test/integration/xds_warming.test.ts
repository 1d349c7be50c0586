// Warming as /config_dump shows it (Envoy's ClustersConfigDump.dynamic_warming_clusters and
// ListenersConfigDump.DynamicListener.warming_state): the proxy against the reference
// control plane, both real CLIs. A new EDS cluster whose endpoints never come is listed
// under dynamic_warming_clusters (not active, not in /clusters) until initial_fetch_timeout
// passes, then moves to dynamic_active_clusters; one whose endpoints arrive moves at once.
// A changed listener whose route table never comes warms beside the active version, which
// keeps serving.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HttpBackend, Proxy, curl, freePort, startHttpBackend, startProxy, waitFor } from './harness';
import { ControlPlane, adsBootstrap, cla, edsCluster, rdsListener, routeConfig, startControlPlane } from './xds_helpers';

const WARM_TIMEOUT = '3s';

function mesh(o: { listenerPort: number; backendPort: number; extraClusters?: object[]; extraClas?: object[]; listenerRds?: string }) {
  return {
    groups: [{
      match: { node_id: 'warm-1' },
      listeners: [rdsListener('ingress', o.listenerPort, o.listenerRds ?? 'routes')],
      route_configurations: [routeConfig('routes', 'web')],
      clusters: [edsCluster('web'), ...(o.extraClusters ?? [])],
      cluster_load_assignments: [cla('web', o.backendPort), ...(o.extraClas ?? [])],
    }],
  };
}


let backend: HttpBackend;
let cp: ControlPlane;
let proxy: Proxy;
let listenerPort: number;

before(async () => {
  backend = await startHttpBackend('a');
  listenerPort = await freePort();
  cp = await startControlPlane(mesh({ listenerPort, backendPort: backend.port }));
  proxy = await startProxy(adsBootstrap({ nodeId: 'warm-1', api: 'GRPC', adsPort: cp.adsPort, initialFetchTimeout: WARM_TIMEOUT }), { listeners: [] });
  await waitFor('the xDS listener to serve', async () => (await curl([`http://127.0.0.1:${listenerPort}/x`])).status === 200, { attempts: 100, intervalMs: 50 });
});

after(async () => {
  await proxy?.stop();
});

async function section(type: string): Promise<any> {
  const dump = JSON.parse((await proxy.admin('/config_dump')).body);
  return dump.configs.find((c: any) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${type}`);
}

const names = (list: any[] | undefined) => (list ?? []).map((c: any) => c.cluster?.name).filter(Boolean).sort();

test('a cluster whose EDS never arrives is warming until initial_fetch_timeout, then active; one whose EDS arrives goes active', async () => {
  cp.writeMesh(mesh({ listenerPort, backendPort: backend.port, extraClusters: [edsCluster('never'), edsCluster('soon')] }));
  const warm = await waitFor('both new clusters to show as warming', async () => {
    const c = await section('ClustersConfigDump');
    return names(c.dynamic_warming_clusters).join() === 'never,soon' ? c : undefined;
  }, { attempts: 100, intervalMs: 20 });
  // Warming is not active: they are neither in dynamic_active_clusters nor in /clusters.
  assert.deepEqual(names(warm.dynamic_active_clusters), ['web']);
  const w = warm.dynamic_warming_clusters.find((c: any) => c.cluster.name === 'never');
  assert.equal(w.cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(w.cluster.type, 'EDS');
  assert.ok(w.version_info?.length > 0, 'the warming version is shown');
  assert.match(w.last_updated, /^\d{4}-\d\d-\d\dT/);
  const clustersText = (await proxy.admin('/clusters')).body;
  assert.ok(!/^never::/m.test(clustersText), `a warming cluster is not in /clusters:\n${clustersText}`);
  // ?resource= selects the warming list alone.
  const only = JSON.parse((await proxy.admin('/config_dump?resource=dynamic_warming_clusters')).body);
  assert.ok(only.configs.length >= 1);
  assert.ok(only.configs.every((c: any) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster'));

  // The assignment for `soon` arrives: it goes active; `never` still warms.
  cp.writeMesh(mesh({ listenerPort, backendPort: backend.port, extraClusters: [edsCluster('never'), edsCluster('soon')], extraClas: [cla('soon', backend.port)] }));
  const mid = await waitFor('soon to go active', async () => {
    const c = await section('ClustersConfigDump');
    return names(c.dynamic_active_clusters).includes('soon') ? c : undefined;
  }, { attempts: 100, intervalMs: 50 });
  assert.ok(!names(mid.dynamic_warming_clusters).includes('soon'), 'soon left the warming list');

  // `never` gets no endpoints at all; after initial_fetch_timeout (3 s) it goes active anyway.
  const end = await waitFor('never to go active after initial_fetch_timeout', async () => {
    const c = await section('ClustersConfigDump');
    return names(c.dynamic_active_clusters).includes('never') ? c : undefined;
  }, { attempts: 200, intervalMs: 100 });
  assert.deepEqual(names(end.dynamic_warming_clusters), [], 'nothing warms any more');
  assert.equal(end.dynamic_warming_clusters, undefined, 'an empty list is left out, as proto3 JSON does');
  assert.ok(/^never::/m.test((await proxy.admin('/clusters')).body), 'now in /clusters');
});

test('a changed listener whose route table never arrives warms beside the active version, which keeps serving', async () => {
  cp.writeMesh(mesh({ listenerPort, backendPort: backend.port, listenerRds: 'missing' }));
  const l = await waitFor('the listener to show a warming_state', async () => {
    const s = await section('ListenersConfigDump');
    return (s.dynamic_listeners ?? []).find((x: any) => x.name === 'ingress' && x.warming_state);
  }, { attempts: 100, intervalMs: 20 });
  assert.ok(l.active_state, 'the older version is still active');
  assert.equal(l.warming_state.listener.name, 'ingress');
  const rds = (v: any) => v.listener.filter_chains[0].filters[0].typed_config.rds.route_config_name;
  assert.equal(rds(l.warming_state), 'missing');
  assert.equal(rds(l.active_state), 'routes');
  assert.deepEqual(Object.keys(l).slice(0, 3), ['name', 'active_state', 'warming_state']);
  assert.equal((await curl([`http://127.0.0.1:${listenerPort}/x`])).status, 200, 'the active version serves');
  // The route table arrives under that name: the listener stops warming.
  cp.writeMesh({
    groups: [{ ...mesh({ listenerPort, backendPort: backend.port, listenerRds: 'missing' }).groups[0], route_configurations: [routeConfig('routes', 'web'), routeConfig('missing', 'web')] }],
  });
  await waitFor('the warming_state to go', async () => {
    const s = await section('ListenersConfigDump');
    const x = (s.dynamic_listeners ?? []).find((y: any) => y.name === 'ingress');
    return x && !x.warming_state && rds(x.active_state) === 'missing';
  }, { attempts: 100, intervalMs: 50 });
  assert.equal((await curl([`http://127.0.0.1:${listenerPort}/x`])).status, 200);
});
