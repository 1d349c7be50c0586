// The ADS stream's life: open a bidi call to AggregatedDiscoveryService, and when it ends
// for any reason, wait (Backoff) and open a new one, until close(). The state is a tagged
// union (design.md convention 8); the call and the timer live inside the state that owns
// them, so a stale call's events are recognised and dropped.
//
// Each attempt gets a fresh channel: grpc-js channels keep their own reconnect backoff
// (up to 120 s), which would otherwise stack on top of ours after a control-plane outage.
// Responses arrive as raw bytes (identity deserializer): decoding happens in the protocol
// code, where a garbage message resets the stream instead of surfacing as a grpc-js error.
import * as grpc from '@grpc/grpc-js';
import { log } from '../../log';
import { Backoff } from './backoff';
import { StreamStateView, XdsApi } from './types';

const SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';

type Call = grpc.ClientDuplexStream<Buffer, Buffer>;

type State =
  | { t: 'idle' }
  | { t: 'connecting'; attempt: number; since: number; client: grpc.Client; call: Call }
  | { t: 'ready'; since: number; client: grpc.Client; call: Call }
  | { t: 'backoff'; attempt: number; retryAt: number; lastError: string; timer: NodeJS.Timeout }
  | { t: 'closed' };

export interface TransportEvents {
  /** A new call is open: send the first request of every subscription (node on the first). */
  onOpen(): void;
  /** One response, undecoded. */
  onMessage(bytes: Buffer): void;
  onState(view: StreamStateView): void;
}

export class AdsTransport {
  private state: State = { t: 'idle' };
  private opened = 0;

  constructor(
    private readonly target: string,
    private readonly api: XdsApi,
    private readonly backoff: Backoff,
    private readonly events: TransportEvents,
  ) {}

  view(): StreamStateView {
    const s = this.state;
    const iso = (ms: number) => new Date(ms).toISOString();
    switch (s.t) {
      case 'connecting':
        return { t: 'connecting', attempt: s.attempt, since: iso(s.since) };
      case 'ready':
        return { t: 'ready', since: iso(s.since) };
      case 'backoff':
        return { t: 'backoff', attempt: s.attempt, retry_at: iso(s.retryAt), last_error: s.lastError };
      default:
        return { t: s.t };
    }
  }

  /** Streams opened so far (1 for the first, +1 per reconnect). */
  get streamsOpened(): number {
    return this.opened;
  }

  start(): void {
    if (this.state.t === 'idle') this.open();
  }

  /** Writes a request if a call is open; returns false otherwise (onOpen will resend state). */
  send(msg: Buffer): boolean {
    const s = this.state;
    if (s.t !== 'connecting' && s.t !== 'ready') return false;
    try {
      s.call.write(msg);
      return true;
    } catch (e) {
      this.fail(s.call, `write failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** Ends the current call (e.g. after an undecodable response) and reconnects after a backoff. */
  reset(reason: string): void {
    const s = this.state;
    if (s.t === 'connecting' || s.t === 'ready') this.fail(s.call, reason);
  }

  close(): void {
    const s = this.state;
    this.state = { t: 'closed' };
    if (s.t === 'connecting' || s.t === 'ready') this.dispose(s.client, s.call);
    if (s.t === 'backoff') clearTimeout(s.timer);
    this.events.onState(this.view());
  }

  private open(): void {
    const method = this.api === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    const client = new grpc.Client(this.target, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest(SERVICE + method, (b: Buffer) => b, (b: Buffer) => b);
    this.state = { t: 'connecting', attempt: this.backoff.attempt, since: Date.now(), client, call };
    this.opened++;
    call.on('data', (b: Buffer) => this.onData(call, b));
    // 'error' carries the status for non-OK ends; 'status' comes for every end, OK included.
    call.on('error', () => undefined);
    call.on('status', (st: grpc.StatusObject) => this.fail(call, `stream ended: ${grpc.status[st.code] ?? st.code}${st.details ? ' ' + st.details : ''}`));
    log.debug('xds stream opening', { target: this.target, api: this.api, attempt: this.backoff.attempt });
    this.events.onState(this.view());
    this.events.onOpen();
  }

  private onData(call: Call, bytes: Buffer): void {
    const s = this.state;
    if ((s.t !== 'connecting' && s.t !== 'ready') || s.call !== call) return;
    if (s.t === 'connecting') {
      // The server answered: the stream works, so the next failure starts from the base delay.
      this.backoff.reset();
      this.state = { t: 'ready', since: Date.now(), client: s.client, call };
      log.info('xds stream established', { target: this.target, api: this.api });
      this.events.onState(this.view());
    }
    this.events.onMessage(bytes);
  }

  private fail(call: Call, reason: string): void {
    const s = this.state;
    if ((s.t !== 'connecting' && s.t !== 'ready') || s.call !== call) return;
    this.dispose(s.client, call);
    const delay = this.backoff.next();
    const timer = setTimeout(() => {
      if (this.state.t === 'backoff') this.open();
    }, delay);
    this.state = { t: 'backoff', attempt: this.backoff.attempt, retryAt: Date.now() + delay, lastError: reason, timer };
    log.warn('xds stream lost; reconnecting', { target: this.target, api: this.api, reason, retry_in_ms: delay });
    this.events.onState(this.view());
  }

  private dispose(client: grpc.Client, call: Call): void {
    try {
      call.cancel();
    } catch {
      /* already ended */
    }
    client.close();
  }
}
