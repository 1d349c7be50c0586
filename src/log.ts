// Logging to stderr, one line per event. Levels follow Envoy's names.
// Hot paths guard with `log.enabled('debug')` before building a message.

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical' | 'off';
const ORDER: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5, off: 6 };
export const LEVELS = Object.keys(ORDER) as Level[];

export function isLevel(s: string): s is Level {
  return Object.prototype.hasOwnProperty.call(ORDER, s);
}

class Logger {
  private threshold = ORDER.info;
  level: Level = 'info';
  json = false;
  /** Worker id prefix when running with --concurrency > 1. */
  tag = '';

  setLevel(l: Level): void {
    this.level = l;
    this.threshold = ORDER[l];
  }

  enabled(l: Level): boolean {
    return ORDER[l] >= this.threshold;
  }

  private emit(l: Level, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[l] < this.threshold) return;
    const ts = new Date().toISOString();
    let line: string;
    if (this.json) {
      line = JSON.stringify({ time: ts, level: l, ...(this.tag ? { worker: this.tag } : {}), msg, ...fields });
    } else {
      let extra = '';
      if (fields) for (const k of Object.keys(fields)) extra += ` ${k}=${fmt(fields[k])}`;
      line = `[${ts}] [${l}]${this.tag ? ' [' + this.tag + ']' : ''} ${msg}${extra}`;
    }
    process.stderr.write(line + '\n');
  }

  trace(msg: string, f?: Record<string, unknown>) { this.emit('trace', msg, f); }
  debug(msg: string, f?: Record<string, unknown>) { this.emit('debug', msg, f); }
  info(msg: string, f?: Record<string, unknown>) { this.emit('info', msg, f); }
  warn(msg: string, f?: Record<string, unknown>) { this.emit('warn', msg, f); }
  error(msg: string, f?: Record<string, unknown>) { this.emit('error', msg, f); }
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v);
}

export const log = new Logger();
