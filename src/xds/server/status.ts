// What each connected xDS stream has asked for and been sent, for GET /status and logs.
// The stream handlers own their StreamStatus objects and update them in place; the
// registry only lists the live ones.
import { log } from '../../log';

export interface NackRecord {
  version: string;
  nonce: string;
  error_detail: string;
  time: string;
}

export interface TypeStatus {
  type_url: string;
  /** Subscribed names; '*' stands for a wildcard subscription. */
  subscribed: string[];
  last_sent_version?: string;
  last_sent_nonce?: string;
  last_acked_version?: string;
  last_acked_nonce?: string;
  last_nack?: NackRecord;
  /** Delta only: the version of each resource the client holds, as the server tracks it. */
  resource_versions?: Record<string, string>;
}

export interface StreamStatus {
  id: number;
  api: 'sotw' | 'delta';
  peer: string;
  node_id: string;
  node_cluster: string;
  /** The mesh group serving this node (`groups[0]` or `default`). */
  group: string;
  connected_at: string;
  types: Record<string, TypeStatus>;
}

export class StatusRegistry {
  private readonly streams = new Map<number, StreamStatus>();
  private nextId = 1;

  open(api: 'sotw' | 'delta', peer: string): StreamStatus {
    const s: StreamStatus = {
      id: this.nextId++, api, peer, node_id: '', node_cluster: '', group: '', connected_at: new Date().toISOString(), types: {},
    };
    this.streams.set(s.id, s);
    return s;
  }

  close(s: StreamStatus): void {
    this.streams.delete(s.id);
  }

  list(): StreamStatus[] {
    return [...this.streams.values()];
  }
}

export function typeStatus(s: StreamStatus, typeUrl: string): TypeStatus {
  let t = s.types[typeUrl];
  if (!t) {
    t = { type_url: typeUrl, subscribed: [] };
    s.types[typeUrl] = t;
  }
  return t;
}

/** Records and logs an ACK: the client applied the response carrying `nonce`. */
export function recordAck(s: StreamStatus, t: TypeStatus, version: string, nonce: string): void {
  t.last_acked_version = version;
  t.last_acked_nonce = nonce;
  if (log.enabled('debug')) log.debug('ACK', { stream: s.id, node: s.node_id, type: t.type_url, version, nonce });
}

/**
 * Records and logs a NACK: the client rejected the response carrying `nonce` and keeps its
 * previous config (xDS protocol doc, "ACK and NACK semantics"). `version` is the version of
 * the rejected response, as the server sent it.
 */
export function recordNack(s: StreamStatus, t: TypeStatus, version: string, nonce: string, detail: { message?: string } | undefined): void {
  const message = detail?.message ?? '';
  t.last_nack = { version, nonce, error_detail: message, time: new Date().toISOString() };
  log.warn('NACK', { stream: s.id, node: s.node_id, type: t.type_url, version, nonce, error_detail: message });
}
