// Re-reads the mesh file when it changes. fs.watch watches the directory, not the file:
// editors and `mv`-style atomic writes replace the file's inode, which ends a watch on the
// file itself. Events are debounced (an editor's save is several events), and a stat poll
// backs fs.watch up where it is unreliable (network and overlay filesystems).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../../log';

export interface Watcher {
  close(): void;
}

export interface WatchOptions {
  debounceMs?: number;
  pollMs?: number;
}

export function watchFile(file: string, onChange: () => void, opts: WatchOptions = {}): Watcher {
  const debounceMs = opts.debounceMs ?? 100;
  const pollMs = opts.pollMs ?? 1000;
  const abs = path.resolve(file);
  const base = path.basename(abs);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
  };

  let dirWatch: fs.FSWatcher | undefined;
  try {
    dirWatch = fs.watch(path.dirname(abs), { persistent: false }, (_event, name) => {
      // Some platforms give no name; then any event in the directory counts.
      if (!name || name.toString() === base) fire();
    });
    dirWatch.on('error', (e) => log.warn('fs.watch failed; relying on polling', { file: abs, error: e }));
  } catch (e) {
    log.warn('fs.watch unavailable; relying on polling', { file: abs, error: e as Error });
  }

  // The poll fallback: fs.watchFile compares stat results every pollMs.
  const onStat = (cur: fs.Stats, prev: fs.Stats) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) fire();
  };
  fs.watchFile(abs, { interval: pollMs, persistent: false }, onStat);

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      dirWatch?.close();
      fs.unwatchFile(abs, onStat);
    },
  };
}
