// `switchyard demo` (what `npm start` runs): the demo mesh on this machine alone — three
// demo services, the reference control plane serving xds/demo/mesh.yaml over ADS, and the
// sidecar configured by it (both the real CLI, as child processes) — then prints the curl
// lines to try. Editing mesh.yaml while it runs changes the routes live.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { log } from '../log';
import { startEchoService, startWebService } from './services';

const BOOTSTRAP = resolve(__dirname, '../../xds/demo/sidecar.yaml');
const MESH = resolve(__dirname, '../../xds/demo/mesh.yaml');
const CLI = resolve(__dirname, '../../bin/switchyard.js');

export async function runDemo(): Promise<void> {
  let servers;
  try {
    servers = await Promise.all([startWebService('web-v1', 10101), startWebService('web-v2', 10102), startEchoService(10103)]);
  } catch (e) {
    log.error(`demo: ${(e as Error).message}`);
    process.exit(1);
  }
  const cp = spawn(process.execPath, [CLI, 'control-plane', '-c', MESH, '--address', '127.0.0.1:18000', '--status-address', '127.0.0.1:18001'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const proxy = spawn(process.execPath, [CLI, 'proxy', '-c', BOOTSTRAP, '--drain-time-s', '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = () => {
    proxy.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  cp.on('exit', (code) => {
    if (code !== 0 && code !== null) {
      log.error('demo: the control plane exited', { code });
      stop();
    }
  });
  proxy.on('exit', (code) => {
    cp.kill('SIGTERM');
    for (const s of servers) s.close();
    cp.once('exit', () => process.exit(code ?? 0));
    setTimeout(() => process.exit(code ?? 0), 3000).unref();
  });
  await waitReady('http://127.0.0.1:9901/ready', 10000);
  process.stdout.write(`
Switchyard demo is running (Ctrl-C to stop). Try:

  curl -s localhost:10000/hello                      # L7 route → web-v1
  curl -s localhost:10000/v2/hello                   # path prefix + rewrite → web-v2 sees /hello
  curl -s -H 'x-canary: true' localhost:10000/hello  # header match → web-v2
  for i in $(seq 10); do curl -s localhost:10000/split | grep service; done   # 80/20 split
  curl -si localhost:10000/old/page                  # redirect (302)
  curl -s localhost:10000/health                     # direct response
  curl -s --http2-prior-knowledge localhost:10000/h2 # HTTP/2 (h2c) downstream
  echo hello | curl -s --max-time 1 telnet://localhost:10001   # L4 tcp_proxy → echo
  curl -s localhost:9901/stats | grep demo_          # admin: stats
  curl -s localhost:9901/clusters                    # admin: hosts and their counters
  curl -s localhost:9901/config_dump | head -40      # admin: config as Envoy prints it
  curl -s localhost:18001/status                     # the control plane: nodes, ACKed versions

The proxy takes its listeners, routes, clusters and endpoints over ADS from the
reference control plane, which serves xds/demo/mesh.yaml. Edit that file while the
demo runs (for instance the 80/20 weights under /split) and the route changes live.

`);
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log.error('demo: the proxy did not become ready in time');
}
