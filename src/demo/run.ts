// `switchyard demo` (what `npm start` runs): the demo mesh on this machine alone — three
// demo services and the sidecar (the real CLI, as a child process) on the embedded
// bootstrap in xds/demo/bootstrap.yaml — then prints the curl lines to try.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { log } from '../log';
import { startEchoService, startWebService } from './services';

const BOOTSTRAP = resolve(__dirname, '../../xds/demo/bootstrap.yaml');
const CLI = resolve(__dirname, '../../bin/switchyard.js');

export async function runDemo(): Promise<void> {
  let servers;
  try {
    servers = await Promise.all([startWebService('web-v1', 10101), startWebService('web-v2', 10102), startEchoService(10103)]);
  } catch (e) {
    log.error(`demo: ${(e as Error).message}`);
    process.exit(1);
  }
  const proxy = spawn(process.execPath, [CLI, 'proxy', '-c', BOOTSTRAP, '--drain-time-s', '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = () => {
    proxy.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  proxy.on('exit', (code) => {
    for (const s of servers) s.close();
    process.exit(code ?? 0);
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
  echo hello | nc -N localhost 10001                 # L4 tcp_proxy → echo service
  curl -s localhost:9901/stats | grep demo_          # admin: stats
  curl -s localhost:9901/clusters                    # admin: hosts and their counters
  curl -s localhost:9901/config_dump | head -40      # admin: config as Envoy prints it

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
