// tcp_health_check: connect, write `send`, and pass once every `receive` block has arrived
// in order; an empty `receive` passes as soon as the connection is up (a connect-only check).
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking
import * as net from 'node:net';
import type { TcpCheckConfig } from './config';
import { networkFailure, OK, payloadsMatch, type Probe, type ProbeResult, type ProbeTarget } from './probe';

export class TcpProbe implements Probe {
  private sock: net.Socket | null = null;
  private connected = false;
  private buf: Buffer = Buffer.alloc(0);
  private done: ((r: ProbeResult) => void) | null = null;

  constructor(
    private readonly cfg: TcpCheckConfig,
    private readonly target: () => ProbeTarget,
    private readonly reuse: boolean,
  ) {}

  check(done: (r: ProbeResult) => void): void {
    this.done = done;
    this.buf = Buffer.alloc(0);
    if (this.sock !== null && this.connected) return this.exchange();
    const t = this.target();
    const s = net.connect({ host: t.ip, port: t.port });
    this.sock = s;
    this.connected = false;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      this.exchange();
    });
    s.on('data', (d: Buffer) => this.onData(s, d));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = null;
      this.connected = false;
      // A close in the middle of a check fails it (Envoy: remote close → network failure).
      this.finish(networkFailure('connection closed'));
    });
  }

  private exchange(): void {
    const s = this.sock!;
    if (this.cfg.send.length > 0) s.write(this.cfg.send);
    if (this.cfg.receive.length === 0) this.finish(OK);
  }

  private onData(s: net.Socket, d: Buffer): void {
    if (this.sock !== s || this.done === null) return;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    if (payloadsMatch(this.cfg.receive, this.buf)) {
      this.buf = Buffer.alloc(0);
      this.finish(OK);
    }
    // Anything else may be a partial answer: wait for more, or for the timeout (as Envoy).
  }

  private finish(r: ProbeResult): void {
    const done = this.done;
    if (done === null) return;
    this.done = null;
    if (!this.reuse) this.dropSocket();
    done(r);
  }

  private dropSocket(): void {
    const s = this.sock;
    this.sock = null;
    this.connected = false;
    s?.destroy();
  }

  abort(): void {
    this.done = null;
    this.dropSocket();
  }

  close(): void {
    this.abort();
  }
}
