// Requests through a --concurrency proxy's workers, and what the admin API says, for the tests
// of what the primary does once for all workers (health checks, outlier detection, DNS).
import { exec, httpRequest, type Proxy } from './harness';
import type { Backend } from './health_backend';

/** `n` requests, each on a connection of its own, `parallel` at a time: which backend answered each. */
export async function answers(proxy: Proxy, n: number, parallel = 1): Promise<string[]> {
  const out: string[] = [];
  const one = async (i: number) => {
    const r = await httpRequest(`http://127.0.0.1:${proxy.port('LISTENER_PORT')}/x/${i}`);
    out.push(r.status === 200 ? String(r.headers['x-backend']) : `status ${r.status}`);
  };
  const lanes = Array.from({ length: parallel }, async (_, lane) => {
    for (let i = lane; i < n; i += parallel) await one(i);
  });
  await Promise.all(lanes);
  return out;
}

/** The PIDs that own the proxy's connections to `backend` whose client ports are `ports` (ss -tnp). */
export async function ownersOf(backend: Backend, ports: number[]): Promise<Set<number>> {
  const r = await exec('ss', ['-tnpH', 'state', 'established', 'dst', `${backend.address}:${backend.port}`], { timeoutMs: 10_000 });
  const want = new Set(ports);
  const pids = new Set<number>();
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /127\.\d+\.\d+\.\d+:(\d+)\s+127\.\d+\.\d+\.\d+:\d+\s+users:\(\("[^"]*",pid=(\d+),/.exec(line);
    if (m !== null && want.has(Number(m[1]))) pids.add(Number(m[2]));
  }
  return pids;
}

/**
 * Batches of requests (fresh connections, four at a time) until the connections on which
 * they reached `backend` belong to both worker processes, three batches at most: every
 * answer, and the PIDs seen.
 */
export async function throughBothWorkers(proxy: Proxy, backend: Backend): Promise<{ answers: string[]; owners: Set<number> }> {
  const all: string[] = [];
  const owners = new Set<number>();
  for (let batch = 0; batch < 3 && owners.size < 2; batch++) {
    const from = backend.clientPorts.length;
    all.push(...(await answers(proxy, 40, 4)));
    for (const pid of await ownersOf(backend, backend.clientPorts.slice(from))) owners.add(pid);
  }
  return { answers: all, owners };
}

export async function stat(proxy: Proxy, name: string): Promise<number> {
  const r = await proxy.admin('/stats');
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(r.body);
  return m === null ? NaN : Number(m[1]);
}

/** A host's health_flags in /clusters. */
export async function healthFlags(proxy: Proxy, cluster: string, port: number, address = '127.0.0.1'): Promise<string> {
  const r = await proxy.admin('/clusters');
  const line = r.body.split('\n').find((l) => l.startsWith(`${cluster}::${address}:${port}::health_flags::`));
  return line?.split('::')[3] ?? '(no line)';
}
