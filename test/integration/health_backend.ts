// An HTTP backend for the health-checking tests: GET /healthz answers `health` (and is
// recorded), every other request answers `status` with the backend's name as body and in
// an x-backend header.
import * as http from 'node:http';
import type * as net from 'node:net';
import { trackResource } from './harness';

export interface Backend {
  name: string;
  address: string;
  port: number;
  /** Status of GET /healthz. */
  health: number;
  /** Status of every other request. */
  status: number;
  /** Health-check requests seen: their headers. */
  checks: http.IncomingHttpHeaders[];
  /** Other requests seen: the client port of the connection each came on. */
  clientPorts: number[];
}

/** Listens on `address`:`port` (port 0: any free one). */
export function startBackend(name: string, status = 200, address = '127.0.0.1', port = 0): Promise<Backend> {
  const b: Backend = { name, address, port: 0, health: 200, status, checks: [], clientPorts: [] };
  const srv = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      if (b.checks.length < 1000) b.checks.push(req.headers);
      res.writeHead(b.health, { 'content-length': 0 }).end();
      return;
    }
    if (b.clientPorts.length < 1000) b.clientPorts.push(req.socket.remotePort ?? 0);
    const body = name;
    res.writeHead(b.status, { 'x-backend': name, 'content-length': body.length }).end(body);
  });
  return new Promise((resolve) => {
    srv.listen(port, address, () => {
      b.port = (srv.address() as net.AddressInfo).port;
      trackResource(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
      resolve(b);
    });
  });
}
