// Drives test/netns/fixtures/interception_agent.ts inside a pod: one JSON command per line in,
// one JSON answer per line out (matched by id), plus events. Every wait is bounded.
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { rootFor, type Pod, type RunAs } from './netns';

const ROOT = path.resolve(__dirname, '..', '..');
const AGENT = path.join(ROOT, 'test', 'netns', 'fixtures', 'interception_agent.ts');

export type Reply = Record<string, any> & { ok: boolean };

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  readonly events: Array<Record<string, any>> = [];
  private eventWaiters: Array<() => void> = [];
  stderr = '';

  private constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        const msg = JSON.parse(line) as Record<string, any>;
        if (typeof msg.id === 'number') {
          this.pending.get(msg.id)?.(msg as Reply);
          this.pending.delete(msg.id);
        } else {
          this.events.push(msg);
          for (const w of this.eventWaiters.splice(0)) w();
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (this.stderr += d));
  }

  /** Starts the agent in the pod (as `as`, default root) and waits until it is ready. */
  static async start(pod: Pod, as?: RunAs): Promise<Agent> {
    // Another uid may not read this checkout: then it runs from a readable copy (rootFor).
    const root = as === undefined ? ROOT : rootFor(as);
    const agent = path.join(root, path.relative(ROOT, AGENT));
    const proc = pod.spawn(process.execPath, ['--import', 'tsx', agent], { cwd: root, as, stdio: ['pipe', 'pipe', 'pipe'] });
    const a = new Agent(proc);
    await a.waitEvent((e) => e.event === 'ready', 20_000);
    return a;
  }

  request(cmd: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent: no answer to ${JSON.stringify(cmd)} within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.proc.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
    });
  }

  /** Like request, but fails the test (with the agent's error) unless the answer is ok. */
  async ok(cmd: Record<string, unknown>, timeoutMs?: number): Promise<Reply> {
    const r = await this.request(cmd, timeoutMs);
    if (!r.ok) throw new Error(`agent: ${JSON.stringify(cmd)} failed: ${r.code}: ${r.message}`);
    return r;
  }

  /** The first event (already seen or coming) that matches, within timeoutMs. */
  async waitEvent(pred: (e: Record<string, any>) => boolean, timeoutMs = 10_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.proc.exitCode !== null) {
        throw new Error(`agent: no matching event within ${timeoutMs} ms (exit ${this.proc.exitCode}); events: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.eventWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.proc.stdin!.end();
    if (this.proc.exitCode === null && this.proc.pid !== undefined) {
      try {
        this.proc.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}
