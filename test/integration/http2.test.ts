// HTTP/2 downstream (h2c prior knowledge on a codec AUTO listener) with real clients:
// curl, nghttp, @grpc/grpc-js and Debian's python3-grpcio; gRPC goes to an HTTP/2
// upstream (explicit_http_config http2_protocol_options) and must keep statuses,
// messages, headers and trailers end to end.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  HttpBackend,
  Proxy,
  curl,
  exec,
  nghttp,
  readFixture,
  sha256,
  startHttpBackend,
  startProxy,
  tempFile,
  trackResource,
} from './harness';

// A tiny service with raw-bytes messages: gRPC does not care what the bytes are, so no
// protobuf schema is needed. Path names follow the gRPC convention /package.Service/Method.
const identity = (b: Buffer) => b;
const ECHO_SERVICE = {
  Unary: {
    path: '/test.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  Bidi: {
    path: '/test.Echo/Bidi',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

async function startGrpcServer(): Promise<number> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Unary(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      const text = call.request.toString();
      const initial = new grpc.Metadata();
      initial.set('x-initial', 'from-server');
      call.sendMetadata(initial);
      const trailers = new grpc.Metadata();
      trailers.set('x-trailer', 'trailer-value');
      trailers.set('x-echo-client-md', String(call.metadata.get('x-client-md')[0] ?? ''));
      if (text === 'missing') {
        callback({ code: grpc.status.NOT_FOUND, details: 'no such thing: missing', metadata: trailers });
        return;
      }
      callback(null, Buffer.from(`pong:${text}`), trailers);
    },
    Bidi(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      let n = 0;
      call.on('data', (m: Buffer) => call.write(Buffer.from(`${++n}:${m.toString()}`)));
      call.on('end', () => {
        const trailers = new grpc.Metadata();
        trailers.set('x-count', String(n));
        call.end(trailers);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  trackResource(() => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()));
  return port;
}

let backend: HttpBackend;
let proxy: Proxy;
let base: string;
let client: InstanceType<typeof EchoClient>;

describe('HTTP/2 and gRPC', () => {
  before(async () => {
    backend = await startHttpBackend('h1');
    const grpcPort = await startGrpcServer();
    proxy = await startProxy(readFixture('http2.yaml'), { vars: { BACKEND_PORT: backend.port, GRPC_PORT: grpcPort } });
    base = `http://127.0.0.1:${proxy.port('LISTENER_PORT')}`;
    client = new EchoClient(`127.0.0.1:${proxy.port('LISTENER_PORT')}`, grpc.credentials.createInsecure());
    trackResource(() => client.close());
  });

  test('curl --http2-prior-knowledge reaches an HTTP/1.1 backend', async () => {
    const r = await curl(['--http2-prior-knowledge', `${base}/h2/hello?x=1`]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.statusLine, /^HTTP\/2 200/);
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.backend, 'h1');
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/h2/hello?x=1');
    assert.equal(seen.headers.host, `127.0.0.1:${proxy.port('LISTENER_PORT')}`, ':authority becomes Host upstream');
  });

  test('curl --http2-prior-knowledge uploads a body intact', async () => {
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13 + 5) & 0xff;
    const file = tempFile('h2-upload.bin', body);
    const r = await curl(['--http2-prior-knowledge', '--data-binary', `@${file}`, `${base}/h2/upload`]);
    assert.equal(r.status, 200, r.stderr);
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.method, 'POST');
    assert.equal(seen.bodyLength, body.length);
    assert.equal(seen.bodySha256, sha256(body));
  });

  test('nghttp (h2c prior knowledge) gets a response', async () => {
    const r = await nghttp(['-v', `${base}/h2/nghttp`]);
    assert.equal(r.exitCode, 0, r.stderr + r.stdout.slice(0, 2000));
    assert.match(r.stdout, /recv SETTINGS frame/);
    assert.match(r.stdout, /recv \(stream_id=\d+\) :status: 200/);
    assert.match(r.stdout, /"backend":"h1"/);
    assert.match(r.stdout, /"url":"\/h2\/nghttp"/);
  });

  test('gRPC unary call with request metadata, response headers and trailers', async () => {
    const md = new grpc.Metadata();
    md.set('x-client-md', 'client-value');
    let headers: grpc.Metadata | undefined;
    let status: grpc.StatusObject | undefined;
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const call = client.makeUnaryRequest(
        ECHO_SERVICE.Unary.path,
        identity,
        identity,
        Buffer.from('ping'),
        md,
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(value!)),
      );
      call.on('metadata', (m: grpc.Metadata) => (headers = m));
      call.on('status', (s: grpc.StatusObject) => (status = s));
    });
    assert.equal(reply.toString(), 'pong:ping');
    assert.deepEqual(headers?.get('x-initial'), ['from-server']);
    // 'status' may fire just after the callback
    for (let i = 0; i < 50 && !status; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(status?.code, grpc.status.OK);
    assert.deepEqual(status?.metadata.get('x-trailer'), ['trailer-value']);
    assert.deepEqual(status?.metadata.get('x-echo-client-md'), ['client-value']);
  });

  test('gRPC error status and message are preserved end to end', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.makeUnaryRequest(
        ECHO_SERVICE.Unary.path,
        identity,
        identity,
        Buffer.from('missing'),
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error('expected NOT_FOUND'))),
      );
    });
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no such thing: missing');
    assert.deepEqual(err.metadata.get('x-trailer'), ['trailer-value']);
  });

  test('gRPC bidirectional streaming', async () => {
    const call = client.makeBidiStreamRequest(ECHO_SERVICE.Bidi.path, identity, identity, new grpc.Metadata(), {
      deadline: Date.now() + 10_000,
    });
    const got: string[] = [];
    let status: grpc.StatusObject | undefined;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: Buffer) => {
        got.push(m.toString());
        // ping-pong: send the next message only after the previous answer came back
        if (got.length < 5) call.write(Buffer.from(`msg${got.length + 1}`));
        else call.end();
      });
      call.on('status', (s: grpc.StatusObject) => {
        status = s;
        resolve();
      });
      call.on('error', (e: Error) => reject(e));
    });
    call.write(Buffer.from('msg1'));
    await done;
    assert.deepEqual(got, ['1:msg1', '2:msg2', '3:msg3', '4:msg4', '5:msg5']);
    assert.equal(status?.code, grpc.status.OK);
    assert.deepEqual(status?.metadata.get('x-count'), ['5']);
  });

  test("Debian's python3-grpcio client gets the same answers", async () => {
    const script = `
import sys, grpc
ch = grpc.insecure_channel(sys.argv[1])
unary = ch.unary_unary('/test.Echo/Unary')
resp, call = unary.with_call(b'py', metadata=(('x-client-md', 'from-python'),), timeout=10)
trailers = dict(call.trailing_metadata())
print(resp.decode(), trailers.get('x-trailer'), trailers.get('x-echo-client-md'))
try:
    unary(b'missing', timeout=10)
    print('no error')
except grpc.RpcError as e:
    print(e.code().name, e.details())
`;
    // /usr/bin/python3: Debian's interpreter, where python3-grpcio is installed (a python3
    // earlier on PATH, e.g. from pyenv, would not see it).
    const r = await exec('/usr/bin/python3', ['-c', script, `127.0.0.1:${proxy.port('LISTENER_PORT')}`], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.toString().trim().split('\n'), [
      'pong:py trailer-value from-python',
      'NOT_FOUND no such thing: missing',
    ]);
  });
});
