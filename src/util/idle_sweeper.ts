// Idle timeouts without a timer per connection: each tracked item stamps when it went
// idle (or -1 while busy) and one periodic sweep closes those idle for too long. Arming
// and clearing a socket timer on every request was measured to cost about a third of the
// HTTP/1.1 proxy's throughput; a stamp costs one Date.now().

import { LazyInterval } from './lazy_interval';

export interface IdleTracked {
  /** ms timestamp since which the item has been idle, or -1 while it is busy. */
  idleSince: number;
  onIdleTimeout(): void;
}

export class IdleSweeper {
  private readonly items = new Set<IdleTracked>();
  private readonly interval: LazyInterval;

  constructor(readonly timeoutMs: number) {
    // A quarter of the timeout, between 25 ms and 1 s: when a timeout fires is off by at
    // most that much.
    this.interval = new LazyInterval(Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4))), () => this.sweep());
  }

  add(x: IdleTracked): void {
    if (this.timeoutMs <= 0) return;
    this.items.add(x);
    this.interval.ensure();
  }

  delete(x: IdleTracked): void {
    this.items.delete(x);
  }

  /** Closes the items idle for too long; returns whether any item is tracked. */
  sweep(): boolean {
    if (this.items.size === 0) return false;
    const now = Date.now();
    for (const x of this.items) {
      if (x.idleSince >= 0 && now - x.idleSince >= this.timeoutMs) {
        this.items.delete(x);
        x.onIdleTimeout();
      }
    }
    return true;
  }
}
