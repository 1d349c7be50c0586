// --concurrency 2 with xDS, against the reference control plane (both real CLIs): the
// control plane sees ONE stream from the node (the primary runs it and relays to the
// workers); a route change applies in every worker (many fresh connections through the
// listener all see it, and each worker logs the update); the primary's /config_dump,
// /clusters and /listeners show the dynamic resources; a worker killed and replaced starts
// from the primary's snapshot and serves the current routes.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HttpBackend, Proxy, curl, exec, freePort, startHttpBackend, startProxy, waitFor } from './harness';
import { ControlPlane, adsBootstrap, cla, edsCluster, rdsListener, startControlPlane } from './xds_helpers';

function mesh(listenerPort: number, backendPort: number, direct?: string) {
  const routes: object[] = [{ match: { prefix: '/' }, route: { cluster: 'web' } }];
  if (direct) routes.unshift({ match: { prefix: '/direct' }, direct_response: { status: 203, body: { inline_string: direct } } });
  return {
    groups: [{
      match: { node_id: 'multi-1' },
      listeners: [rdsListener('ingress', listenerPort, 'routes')],
      route_configurations: [{ name: 'routes', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] }],
      clusters: [edsCluster('web')],
      cluster_load_assignments: [cla('web', backendPort)],
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
  cp = await startControlPlane(mesh(listenerPort, backend.port));
  proxy = await startProxy(adsBootstrap({ nodeId: 'multi-1', api: 'DELTA_GRPC', adsPort: cp.adsPort }), { concurrency: 2, listeners: [listenerPort] });
});

after(async () => {
  await proxy?.stop();
});

/** `n` requests, each on a new connection (curl processes), answering status:body lines. */
async function fresh(n: number, p: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => curl([`http://127.0.0.1:${listenerPort}${p}`])));
    for (const r of batch) out.push(`${r.status}:${r.body.toString()}`);
  }
  return out;
}

async function workerPids(): Promise<number[]> {
  const r = await exec('ps', ['-o', 'pid=', '--ppid', String(proxy.pid)], { timeoutMs: 10_000 });
  return r.stdout.toString().split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

test('one node stream at the control plane, and the workers serve the xDS config', async () => {
  const st = await cp.status();
  const mine = (st.streams ?? []).filter((s: any) => s.node_id === 'multi-1');
  assert.equal(mine.length, 1, `exactly one stream from the node: ${JSON.stringify(st.streams)}`);
  assert.equal((await workerPids()).length, 2, 'two workers');
  const r = await fresh(20, '/x');
  assert.ok(r.every((x) => x.startsWith('200:')), r.join('\n'));
});

test('the primary\'s /config_dump, /clusters and /listeners show the dynamic resources', async () => {
  const dump = JSON.parse((await proxy.admin('/config_dump')).body);
  const sec = (t: string) => dump.configs.find((c: any) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`);
  const web = (sec('ClustersConfigDump').dynamic_active_clusters ?? []).find((c: any) => c.cluster?.name === 'web');
  assert.ok(web?.version_info, `web is a dynamic cluster with a version: ${JSON.stringify(sec('ClustersConfigDump'))}`);
  const l = (sec('ListenersConfigDump').dynamic_listeners ?? []).find((x: any) => x.name === 'ingress');
  assert.ok(l?.active_state?.version_info, 'ingress is a dynamic listener');
  assert.ok((sec('RoutesConfigDump').dynamic_route_configs ?? []).some((r: any) => r.route_config.name === 'routes'));
  // Host counters are the workers' summed: the 20 requests above went to the one endpoint.
  const clusters = (await proxy.admin('/clusters')).body;
  const m = new RegExp(`^web::127\\.0\\.0\\.1:${backend.port}::rq_total::(\\d+)$`, 'm').exec(clusters);
  assert.ok(m, `web's host in /clusters:\n${clusters}`);
  assert.ok(Number(m[1]) >= 20, `rq_total summed over the workers: ${m[1]}`);
  const listeners = JSON.parse((await proxy.admin('/listeners?format=json')).body);
  assert.ok(JSON.stringify(listeners).includes(String(listenerPort)), `the bound address: ${JSON.stringify(listeners)}`);
  assert.equal((await proxy.admin('/ready')).status, 200);
});

test('a route change applies in every worker: every fresh connection sees it', async () => {
  const from = proxy.stderr().length;
  cp.writeMesh(mesh(listenerPort, backend.port, 'v2'));
  // Each worker logs the update it applied (the primary relays it).
  await waitFor('both workers to apply the new routes', () => {
    const lines = proxy.stderr().slice(from).split('\n').filter((x) => /applied xds update from the primary.*RouteConfiguration/.test(x));
    return new Set(lines.map((x) => /\[worker (\d+)\]/.exec(x)?.[1])).size >= 2;
  }, { attempts: 200, intervalMs: 50 });
  const r = await fresh(40, '/direct');
  assert.deepEqual([...new Set(r)], ['203:v2'], r.join('\n'));
});

test('a worker killed and replaced starts from the primary\'s snapshot', async () => {
  const count = () => (proxy.stderr().match(/applied xds update from the primary.*RouteConfiguration/g) ?? []).length;
  const before = count();
  const [victim] = await workerPids();
  process.kill(victim, 'SIGKILL');
  await waitFor('a replacement worker', async () => {
    const pids = await workerPids();
    return pids.length === 2 && !pids.includes(victim);
  }, { attempts: 200, intervalMs: 50 });
  // The replacement has the routes of v2 (from the snapshot; nothing changed since).
  await waitFor('the replacement to apply the snapshot', () => count() > before, { attempts: 200, intervalMs: 50 });
  const r = await fresh(40, '/direct');
  assert.deepEqual([...new Set(r)], ['203:v2'], r.join('\n'));
  const st = await cp.status();
  assert.equal((st.streams ?? []).filter((s: any) => s.node_id === 'multi-1').length, 1, 'still one stream');
});
