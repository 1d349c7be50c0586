// Graceful drain on SIGTERM (`--drain-time-s`): in-flight requests finish, HTTP/1.1
// responses during the drain carry `connection: close` (as Envoy's HTTP connection manager
// does while draining), /ready answers 503, the listener stops accepting, and the process
// exits 0 once the drain is over.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import {
  httpRequest,
  probeConnect,
  readFixture,
  sleep,
  startHttpBackend,
  startProxy,
  trackResource,
  waitFor,
} from './harness';

const DRAIN_S = 3;

/** A fresh keep-alive agent: node sends `Connection: close` without one, which would make
 * a `connection: close` in the answer meaningless. */
function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  trackResource(() => agent.destroy());
  return agent;
}

describe('drain on SIGTERM', () => {
  test('in-flight requests complete, new ones are told to close, then the process exits 0', async () => {
    const backend = await startHttpBackend('drain');
    const proxy = await startProxy(readFixture('drain.yaml'), {
      vars: { BACKEND_PORT: backend.port },
      args: ['--drain-time-s', String(DRAIN_S)],
    });
    const port = proxy.port('LISTENER_PORT');
    const base = `http://127.0.0.1:${port}`;

    // A keep-alive connection that has served one request and stays open.
    const agent = keepAliveAgent();
    const first = await httpRequest(`${base}/keepalive/1`, { agent });
    assert.equal(first.status, 200);
    assert.notEqual(String(first.headers['connection'] ?? '').toLowerCase(), 'close');

    // A slow request in flight when the signal arrives.
    const slow = httpRequest(`${base}/slow?ms=1500`, { timeoutMs: 20_000, agent: keepAliveAgent() });
    await waitFor('the backend to receive the slow request', () => backend.requests.some((r) => r.url.startsWith('/slow')), {
      attempts: 100,
      intervalMs: 20,
    });

    process.kill(proxy.pid, 'SIGTERM');

    // /ready reports the drain (Envoy: 503 while the server state is DRAINING).
    let readyStatus = 0;
    for (let i = 0; i < 40 && readyStatus !== 503; i++) {
      try {
        readyStatus = (await proxy.admin('/ready')).status;
      } catch {
        break; // admin gone: fails the assertion below
      }
      if (readyStatus !== 503) await sleep(25);
    }
    assert.equal(readyStatus, 503, '/ready should answer 503 while draining');

    // The existing keep-alive connection is still served, and told to close.
    const second = await httpRequest(`${base}/keepalive/2`, { agent });
    assert.equal(second.status, 200);
    assert.equal(String(second.headers['connection']).toLowerCase(), 'close', 'a response during drain should carry connection: close');

    // The in-flight request completes normally, also with connection: close.
    const slowRes = await slow;
    assert.equal(slowRes.status, 200);
    assert.equal(JSON.parse(slowRes.body.toString()).url, '/slow?ms=1500');
    assert.equal(String(slowRes.headers['connection']).toLowerCase(), 'close');

    // New connections: while the listener still accepts, the answer carries
    // connection: close; then the listener closes and connections are refused (bounded).
    let refused = false;
    const probeDeadline = Date.now() + (DRAIN_S + 7) * 1000;
    for (let i = 0; i < 400 && Date.now() < probeDeadline; i++) {
      const state = await probeConnect(port, '127.0.0.1', 1000);
      if (state === 'ECONNREFUSED') {
        refused = true;
        break;
      }
      if (state === 'connected' && i % 5 === 0) {
        try {
          const r = await httpRequest(`${base}/during-drain/${i}`, { timeoutMs: 3000, agent: keepAliveAgent() });
          assert.equal(String(r.headers['connection']).toLowerCase(), 'close', 'a new connection during drain is told to close');
        } catch (e) {
          // refused/reset because the listener closed between the probe and the request
          if (!/ECONNREFUSED|ECONNRESET|socket hang up/.test(String(e))) throw e;
        }
      }
      await sleep(100);
    }
    assert.ok(refused, 'the listener should stop accepting connections');

    // The process exits 0 within the drain time plus a margin.
    const exit = await Promise.race([proxy.exited, sleep((DRAIN_S + 10) * 1000).then(() => undefined)]);
    assert.ok(exit, `the proxy did not exit within ${DRAIN_S + 10} s of SIGTERM`);
    assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderr().slice(-3000));
  });
});
