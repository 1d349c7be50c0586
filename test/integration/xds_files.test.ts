// path_config_source (Envoy's filesystem subscriptions) end to end: the proxy's listeners,
// clusters, route tables and endpoints come from DiscoveryResponse files on disk (YAML and
// JSON), which the test edits as a user would: replacing a file atomically (write + rename)
// and writing one in place. curl through the proxy shows each change; a file that does not
// parse, or a resource that does not validate, leaves the last good config serving (the
// rejected resource shows in /config_dump with its error_state); a resource removed from
// the file is removed.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { HttpBackend, Proxy, curl, freePort, probeConnect, runCli, startHttpBackend, startProxy, tempDir, tempFile, waitFor } from './harness';
import { cla, rdsListener, routeConfig } from './xds_helpers';

const T = 'type.googleapis.com/envoy.config.';
const LISTENER = T + 'listener.v3.Listener';
const CLUSTER = T + 'cluster.v3.Cluster';
const ROUTES = T + 'route.v3.RouteConfiguration';
const CLA = T + 'endpoint.v3.ClusterLoadAssignment';

let dir: string;
let backA: HttpBackend;
let backB: HttpBackend;
let proxy: Proxy;
let port1: number;
let port2: number;
const file = (n: string) => path.join(dir, n);

/** Atomic replace (temp file in the same directory, then rename), as config tools do. */
function replace(name: string, body: unknown): void {
  const tmp = file(`.${name}.tmp`);
  fs.writeFileSync(tmp, typeof body === 'string' ? body : JSON.stringify(body, null, 1));
  fs.renameSync(tmp, file(name));
}

function response(version: string, type: string, resources: object[]) {
  return { version_info: version, resources: resources.map((r) => ({ '@type': type, ...r })) };
}

/** A listener whose routes come from rds.yaml. */
const listener = (name: string, port: number) => rdsListener(name, port, 'routes', { path_config_source: { path: file('rds.yaml') } });

const webCluster = () => ({
  name: 'web', type: 'EDS', connect_timeout: '1s',
  eds_cluster_config: { eds_config: { path_config_source: { path: file('eds.json') } } },
});

function routes(version: string, extra: object[] = []) {
  const rc = routeConfig('routes', 'web');
  rc.virtual_hosts[0].routes.unshift(...(extra as any[]));
  return response(version, ROUTES, [rc]);
}

async function backendOf(port: number, p = '/x'): Promise<string> {
  const r = await curl([`http://127.0.0.1:${port}${p}`, '--max-time', '3']);
  if (r.status !== 200) return `status ${r.status}`;
  return JSON.parse(r.body.toString()).backend;
}

before(async () => {
  dir = tempDir('switchyard-files-');
  backA = await startHttpBackend('a');
  backB = await startHttpBackend('b');
  port1 = await freePort();
  port2 = await freePort();
  // LDS as YAML text, the rest as JSON (YAML's subset).
  fs.writeFileSync(file('lds.yaml'), yaml.dump(response('l1', LISTENER, [listener('one', port1), listener('two', port2)])));
  fs.writeFileSync(file('cds.json'), JSON.stringify(response('c1', CLUSTER, [webCluster()])));
  fs.writeFileSync(file('rds.yaml'), JSON.stringify(routes('r1')));
  fs.writeFileSync(file('eds.json'), JSON.stringify(response('e1', CLA, [cla('web', backA.port)])));
  const bootstrap = `
node: { id: files-1, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: \${ADMIN_PORT} } } }
dynamic_resources:
  lds_config: { path_config_source: { path: ${file('lds.yaml')} } }
  cds_config: { path_config_source: { path: ${file('cds.json')}, watched_directory: { path: ${dir} } }, resource_api_version: V3 }
`;
  proxy = await startProxy(bootstrap, { listeners: [port1, port2] });
});

after(async () => {
  await proxy?.stop();
});

test('initial load: listeners (YAML), cluster, routes and endpoints from files; /config_dump shows them as dynamic', async () => {
  assert.equal(await backendOf(port1), 'a');
  assert.equal(await backendOf(port2), 'a');
  const dump = JSON.parse((await proxy.admin('/config_dump?include_eds')).body);
  const sec = (t: string) => dump.configs.find((c: any) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`);
  assert.deepEqual((sec('ListenersConfigDump').dynamic_listeners ?? []).map((l: any) => l.name).sort(), ['one', 'two']);
  assert.equal(sec('ListenersConfigDump').version_info, 'l1');
  const web = sec('ClustersConfigDump').dynamic_active_clusters.find((c: any) => c.cluster.name === 'web');
  assert.equal(web.version_info, 'c1');
  assert.equal(sec('RoutesConfigDump').dynamic_route_configs[0].version_info, 'r1');
  assert.equal(sec('EndpointsConfigDump').dynamic_endpoint_configs[0].version_info, 'e1');
});

test('an atomic replace of the route file adds a route; curl sees it', async () => {
  replace('rds.yaml', routes('r2', [{ match: { prefix: '/direct' }, direct_response: { status: 203, body: { inline_string: 'from file' } } }]));
  await waitFor('the new route', async () => (await curl([`http://127.0.0.1:${port1}/direct`])).status === 203, { attempts: 100, intervalMs: 50 });
  const r = await curl([`http://127.0.0.1:${port1}/direct`]);
  assert.equal(r.body.toString(), 'from file');
});

test('an in-place write of the endpoint file moves the traffic', async () => {
  fs.writeFileSync(file('eds.json'), JSON.stringify(response('e2', CLA, [cla('web', backB.port)])));
  await waitFor('traffic on b', async () => (await backendOf(port1)) === 'b', { attempts: 100, intervalMs: 50 });
});

test('a file that does not parse is rejected and logged; the last good config keeps serving', async () => {
  replace('rds.yaml', 'version_info: "r3"\nresources: [ {"@type": "' + ROUTES + '", name: routes,');
  await waitFor('the rejection in the log', () => /config file rejected.*rds\.yaml|rds\.yaml.*config file rejected/.test(proxy.stderr()), { attempts: 100, intervalMs: 50 });
  assert.match(proxy.stderr(), /YAML syntax error/);
  assert.equal((await curl([`http://127.0.0.1:${port1}/direct`])).status, 203, 'the route from r2 still serves');
  assert.equal(await backendOf(port1), 'b');
  // A DiscoveryResponse with a field it does not have is rejected the same way.
  replace('rds.yaml', { ...routes('r3'), versoin_info: 'x' });
  await waitFor('the unknown field in the log', () => /unknown field \\?"versoin_info\\?"/.test(proxy.stderr()), { attempts: 100, intervalMs: 50 });
  assert.equal((await curl([`http://127.0.0.1:${port1}/direct`])).status, 203, 'still the route from r2');
});

test('a resource that does not validate keeps its last good version and shows its error_state; the good ones in the file apply', async () => {
  // `web` gets a Maglev table size Envoy rejects (not prime); a new cluster `extra` in the same file is fine.
  const bad = { ...webCluster(), lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 10 } };
  const extra = { name: 'extra', type: 'STATIC', connect_timeout: '1s', load_assignment: cla('extra', backA.port) };
  replace('cds.json', response('c2', CLUSTER, [bad, extra]));
  const clusters = await waitFor('extra to be active', async () => {
    const d = JSON.parse((await proxy.admin('/config_dump')).body);
    const c = d.configs.find((x: any) => x['@type'].endsWith('ClustersConfigDump'));
    return (c.dynamic_active_clusters ?? []).some((x: any) => x.cluster?.name === 'extra') ? c : undefined;
  }, { attempts: 100, intervalMs: 50 });
  const web = clusters.dynamic_active_clusters.find((x: any) => x.cluster?.name === 'web');
  assert.equal(web.version_info, 'c1', 'web keeps its last good version');
  assert.match(web.error_state.details, /web: maglev_lb_config\.table_size: /);
  assert.equal(web.error_state.version_info, 'c2');
  assert.equal(web.error_state.failed_configuration.lb_policy, 'MAGLEV');
  assert.equal(await backendOf(port1), 'b', 'web still serves');
});

test('a listener removed from the file is removed (drained, then closed)', async () => {
  replace('lds.yaml', response('l2', LISTENER, [listener('one', port1)]));
  await waitFor('listener two to stop accepting', async () => (await probeConnect(port2)) !== 'connected', { attempts: 200, intervalMs: 50 });
  assert.equal(await backendOf(port1), 'b', 'listener one still serves');
  const d = JSON.parse((await proxy.admin('/config_dump')).body);
  const l = d.configs.find((x: any) => x['@type'].endsWith('ListenersConfigDump'));
  assert.deepEqual(l.dynamic_listeners.map((x: any) => x.name), ['one']);
  assert.equal(l.version_info, 'l2');
});

test('validate: a path_config_source that does not exist is named with its field path; api_config_source is still rejected', async () => {
  const boot = tempFile('bad-files.yaml', `
node: { id: n }
dynamic_resources:
  lds_config: { path_config_source: { path: /nonexistent/lds.yaml } }
  cds_config: { api_config_source: { api_type: GRPC, transport_api_version: V3 } }
`);
  const r = await runCli(['validate', '-c', boot]);
  assert.notEqual(r.exitCode, 0);
  const out = r.output;
  assert.match(out, /dynamic_resources\.lds_config\.path_config_source\.path: "\/nonexistent\/lds\.yaml" does not exist/);
  assert.match(out, /dynamic_resources\.cds_config\.api_config_source: not supported by switchyard/);
});
