// grpc_health_check: the grpc.health.v1.Health/Check unary call over HTTP/2, with
// HealthCheckRequest{service: service_name} and :authority from `authority` (else the
// endpoint's health_check_config.hostname, else the cluster's name). It passes only on
// HTTP 200, grpc-status 0 and a HealthCheckResponse whose status is SERVING; any other
// answer fails the host at once, as Envoy's GrpcHealthCheckerImpl does, and a reset or a
// lost connection counts as a network failure.
// https://github.com/grpc/grpc/blob/master/doc/health-checking.md
// The two messages are tiny, so they are encoded here by hand (protobuf wire format):
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  SERVING = 1
import * as http2 from 'node:http2';
import type { GrpcCheckConfig } from './config';
import { checkHeaders, H2StreamProbe } from './http_probe';
import { activeFailure, networkFailure, OK, type ProbeResult, type ProbeTarget } from './probe';

/** The gRPC frame (1-byte flag, 4-byte length) holding HealthCheckRequest{service}. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const msg: number[] = [];
  if (s.length > 0) {
    msg.push(0x0a);
    let n = s.length;
    while (n > 0x7f) {
      msg.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    msg.push(n);
  }
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length + s.length, 1);
  return Buffer.concat([head, Buffer.from(msg), s]);
}

/** HealthCheckResponse.status from one gRPC frame's message bytes (0 = UNKNOWN when absent). */
export function decodeServingStatus(msg: Buffer): number {
  let i = 0;
  let status = 0;
  while (i < msg.length) {
    const tag = msg[i++];
    const wire = tag & 7;
    if (wire === 0) {
      let v = 0;
      let shift = 0;
      for (let k = 0; k < 10 && i < msg.length; k++) {
        const b = msg[i++];
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (tag >>> 3 === 1) status = v;
    } else if (wire === 2) {
      let len = 0;
      let shift = 0;
      for (let k = 0; k < 5 && i < msg.length; k++) {
        const b = msg[i++];
        len |= (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else break;
  }
  return status;
}

const SERVING = 1;

export class GrpcProbe extends H2StreamProbe {
  private readonly body: Buffer;

  constructor(
    private readonly cfg: GrpcCheckConfig,
    private readonly target: () => ProbeTarget,
    reuse: boolean,
  ) {
    super(reuse);
    this.body = encodeHealthCheckRequest(cfg.serviceName);
  }

  check(done: (r: ProbeResult) => void): void {
    const t = this.target();
    const path = '/grpc.health.v1.Health/Check';
    const headers: http2.OutgoingHttpHeaders = checkHeaders('POST', path, t, this.cfg.metadata).toObject();
    headers['content-type'] = 'application/grpc';
    headers.te = 'trailers';
    const opened = this.openStream(t, 'POST', path, headers, false, done);
    if (opened === null) return;
    const { st, finish } = opened;
    st.end(this.body);
    let status = 0;
    let grpcStatus: string | undefined;
    let contentType = '';
    const chunks: Buffer[] = [];
    st.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
      contentType = String(h['content-type'] ?? '');
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only
    });
    st.on('trailers', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    st.on('data', (d: Buffer) => {
      if (chunks.length < 16) chunks.push(d);
    });
    st.on('error', (e) => finish(networkFailure(e.message)));
    st.on('close', () => {
      if (status === 0) return finish(networkFailure(`stream reset (${st.rstCode})`));
      if (status !== 200) return finish(activeFailure(`non-200 HTTP response ${status}`));
      if (!contentType.startsWith('application/grpc')) return finish(activeFailure(`invalid gRPC content-type ${JSON.stringify(contentType)}`));
      if (grpcStatus === undefined) return finish(networkFailure('no grpc-status'));
      if (grpcStatus !== '0') return finish(activeFailure(`grpc-status ${grpcStatus}`));
      const frame = Buffer.concat(chunks);
      if (frame.length < 5) return finish(activeFailure('no HealthCheckResponse'));
      const len = frame.readUInt32BE(1);
      const serving = decodeServingStatus(frame.subarray(5, 5 + len));
      finish(serving === SERVING ? OK : activeFailure(`serving status ${serving}`));
    });
  }
}
