// An unref'd interval that runs only while there is work: started on demand, and stopped
// after a run of idle ticks rather than at the first one, so work that comes and goes
// (requests one after another, short connections) does not start and stop it each time.
// Shared by the connection manager's stream sweeper and the idle-connection sweepers.

const IDLE_TICKS_BEFORE_STOP = 10;

export class LazyInterval {
  private timer: NodeJS.Timeout | null = null;
  private idleTicks = 0;

  /** `tick` runs every `periodMs` while started; it returns whether there was anything to do. */
  constructor(
    private periodMs: number,
    private readonly tick: () => boolean,
  ) {}

  /** Starts the interval if it is not running. */
  ensure(): void {
    if (this.timer !== null || this.periodMs <= 0) return;
    this.idleTicks = 0;
    this.timer = setInterval(run, this.periodMs, this);
    this.timer.unref();
  }

  /** Changes the period; a running interval restarts with it. */
  setPeriod(ms: number): void {
    if (ms === this.periodMs) return;
    this.periodMs = ms;
    if (this.timer === null) return;
    this.stop();
    this.ensure();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  onTick(): void {
    if (this.tick()) this.idleTicks = 0;
    else if (++this.idleTicks > IDLE_TICKS_BEFORE_STOP) this.stop();
  }
}

function run(l: LazyInterval): void {
  l.onTick();
}
