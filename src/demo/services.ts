// The demo mesh's upstream services: two versions of a small web service that report who
// they are, and a TCP echo server. Used by `switchyard demo` only.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';

export function startWebService(name: string, port: number): Promise<Server> {
  const srv = createHttpServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      const body = JSON.stringify(
        {
          service: name,
          method: req.method,
          path: req.url,
          request_bytes: bytes,
          headers: { 'x-request-id': req.headers['x-request-id'], 'x-forwarded-for': req.headers['x-forwarded-for'], 'x-canary': req.headers['x-canary'] },
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json', 'x-service': name });
      res.end(body + '\n');
    });
  });
  return listen(srv, port);
}

export function startEchoService(port: number): Promise<TcpServer> {
  const srv = createTcpServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  return listen(srv, port);
}

function listen<T extends Server | TcpServer>(srv: T, port: number): Promise<T> {
  return new Promise((resolve, reject) => {
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} is already in use; stop what holds it and try again` : e.message)),
    );
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}
