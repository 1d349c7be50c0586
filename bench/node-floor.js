// The node-floor reference of the benchmark: the least a Node.js proxy does per request on
// this machine. It is not a proxy: it pairs each client connection with its own backend
// connection and copies bytes both ways, parsing nothing. It uses the same I/O techniques
// as Switchyard's HTTP/1.1 path (reads into one shared buffer through the `onread` option,
// writes held until the end of the event loop's poll phase, TCP_NODELAY), so
//   Switchyard's CPU per request − node-floor's = what Switchyard's own work costs
//   node-floor's − HAProxy's                    = what the runtime costs before any work
// See bench/README.md ("node-floor").
//
//   node bench/node-floor.js LISTEN_PORT BACKEND_PORT     (127.0.0.1 both)
'use strict';
const net = require('node:net');

const [listenPort, backendPort] = process.argv.slice(2).map(Number);
if (!(listenPort > 0) || !(backendPort > 0)) {
  process.stderr.write('usage: node bench/node-floor.js LISTEN_PORT BACKEND_PORT\n');
  process.exit(2);
}

// Writes held until the poll phase ends, then made in one burst (as write_batch.ts does).
let held = [];
let scheduled = false;
function flush() {
  scheduled = false;
  const list = held;
  held = [];
  for (let i = 0; i < list.length; i += 2) {
    const to = list[i];
    if (!to.destroyed && !to.write(list[i + 1])) to.peer.pause();
  }
}
function send(to, bytes) {
  held.push(to, bytes);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

// One read buffer for every backend socket (each read is copied out before the next one
// can happen); client sockets, accepted by net.Server, read through 'data' events.
const SHARED = Buffer.allocUnsafe(64 * 1024);

function pipeTo(other) {
  return (n, buf) => {
    send(other, Buffer.from(buf.subarray(0, n)));
    return true;
  };
}

net
  .createServer({ noDelay: true, pauseOnConnect: true }, (client) => {
    const backend = net.connect({ host: '127.0.0.1', port: backendPort, noDelay: true, onread: { buffer: SHARED, callback: pipeTo(client) } });
    client.peer = backend;
    backend.peer = client;
    client.on('data', (d) => send(backend, d));
    client.on('drain', () => backend.resume());
    backend.on('drain', () => client.resume());
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', close).on('close', close);
    backend.on('error', close).on('close', close);
    backend.on('connect', () => client.resume());
  })
  .listen(listenPort, '127.0.0.1', () => process.stderr.write(`node-floor: 127.0.0.1:${listenPort} -> 127.0.0.1:${backendPort}\n`));
