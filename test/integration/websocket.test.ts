// WebSocket upgrades through an http_connection_manager with
// `upgrade_configs: [{upgrade_type: websocket}]`, using the `ws` package on both ends.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Proxy, readFixture, startProxy, trackResource } from './harness';

// `ws` ships no type declarations here; it is used through this small surface only.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const WS = require('ws') as {
  WebSocketServer: new (opts: { server: http.Server }) => WsServer;
  new (url: string, opts?: Record<string, unknown>): WsClient;
};
interface WsServer {
  on(ev: 'connection', cb: (sock: WsClient, req: http.IncomingMessage) => void): void;
  close(cb?: () => void): void;
  clients: Set<WsClient>;
}
interface WsClient {
  on(ev: 'message', cb: (data: Buffer, isBinary: boolean) => void): void;
  on(ev: 'open', cb: () => void): void;
  on(ev: 'close', cb: (code: number, reason: Buffer) => void): void;
  on(ev: 'error', cb: (e: Error) => void): void;
  on(ev: 'unexpected-response', cb: (req: http.ClientRequest, res: http.IncomingMessage) => void): void;
  send(data: string | Buffer, opts?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

let proxy: Proxy;
let upgradeHeaders: http.IncomingHttpHeaders[] = [];
let serverCloseCodes: number[] = [];

async function startWsEcho(): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only\n');
  });
  const wss = new WS.WebSocketServer({ server });
  wss.on('connection', (sock, req) => {
    upgradeHeaders.push(req.headers);
    sock.on('message', (data, isBinary) => sock.send(isBinary ? data : `echo:${data.toString()}`, { binary: isBinary }));
    sock.on('close', (code) => serverCloseCodes.push(code));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  trackResource(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => server.close(() => r()));
      }),
  );
  return (server.address() as AddressInfo).port;
}

function openClient(url: string): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const c = new WS(url, { handshakeTimeout: 10_000 });
    trackResource(() => c.terminate());
    c.on('open', () => resolve(c));
    c.on('error', reject);
    c.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
  });
}

describe('WebSocket', () => {
  before(async () => {
    upgradeHeaders = [];
    serverCloseCodes = [];
    const port = await startWsEcho();
    proxy = await startProxy(readFixture('websocket.yaml'), { vars: { BACKEND_PORT: port } });
  });

  test('text and binary messages round-trip through the proxy, and close passes through', async () => {
    const c = await openClient(`ws://127.0.0.1:${proxy.port('LISTENER_PORT')}/chat?room=1`);
    const got: (string | Buffer)[] = [];
    c.on('message', (data, isBinary) => got.push(isBinary ? Buffer.from(data) : data.toString()));
    const binary = Buffer.alloc(256 * 1024);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 31) & 0xff;
    c.send('hello');
    c.send('world');
    c.send(binary, { binary: true });
    for (let i = 0; i < 200 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(got.slice(0, 2), ['echo:hello', 'echo:world']);
    assert.ok(Buffer.isBuffer(got[2]) && (got[2] as Buffer).equals(binary), 'the binary message should come back intact');

    assert.equal(upgradeHeaders.length, 1);
    assert.equal(String(upgradeHeaders[0]['upgrade']).toLowerCase(), 'websocket');

    const closed = new Promise<number>((r) => c.on('close', (code) => r(code)));
    c.close(1000, 'bye');
    assert.equal(await closed, 1000);
    for (let i = 0; i < 100 && serverCloseCodes.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(serverCloseCodes, [1000], 'the backend should see the close frame');
  });

  test('several WebSocket connections at once stay separate', async () => {
    const port = proxy.port('LISTENER_PORT');
    const clients = await Promise.all([1, 2, 3].map(() => openClient(`ws://127.0.0.1:${port}/multi`)));
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => c.on('message', (d) => got[i].push(d.toString())));
    clients.forEach((c, i) => c.send(`client-${i}`));
    for (let i = 0; i < 200 && got.some((g) => g.length < 1); i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(got, [['echo:client-0'], ['echo:client-1'], ['echo:client-2']]);
    for (const c of clients) c.close();
  });
});
