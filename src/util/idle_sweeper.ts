// Idle timeouts without a timer per connection: each tracked item stamps when it went
// idle (or -1 while busy) and one periodic sweep closes those idle for too long. Arming
// and clearing a socket timer on every request was measured to cost about a third of the
// HTTP/1.1 proxy's throughput; a stamp costs one Date.now().

export interface IdleTracked {
  /** ms timestamp since which the item has been idle, or -1 while it is busy. */
  idleSince: number;
  onIdleTimeout(): void;
}

export class IdleSweeper {
  private readonly items = new Set<IdleTracked>();
  private timer: NodeJS.Timeout | null = null;
  private readonly period: number;
  private emptySweeps = 0;

  constructor(readonly timeoutMs: number) {
    // A quarter of the timeout, between 25 ms and 1 s: when a timeout fires is off by at
    // most that much.
    this.period = Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4)));
  }

  add(x: IdleTracked): void {
    if (this.timeoutMs <= 0) return;
    this.items.add(x);
    if (this.timer === null) {
      this.timer = setInterval(sweep, this.period, this);
      this.timer.unref();
    }
  }

  delete(x: IdleTracked): void {
    this.items.delete(x);
  }

  sweep(): void {
    // Stop only after a run of empty sweeps, so short connections opened one after another
    // do not start and stop the timer once each.
    if (this.items.size === 0) {
      if (++this.emptySweeps > 10 && this.timer !== null) {
        clearInterval(this.timer);
        this.timer = null;
      }
      return;
    }
    this.emptySweeps = 0;
    const now = Date.now();
    for (const x of this.items) {
      if (x.idleSince >= 0 && now - x.idleSince >= this.timeoutMs) {
        this.items.delete(x);
        x.onIdleTimeout();
      }
    }
  }
}

function sweep(s: IdleSweeper): void {
  s.sweep();
}
