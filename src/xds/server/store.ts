// Holds the mesh being served and swaps it whole on a good reload (design.md convention 3).
// A bad reload keeps the previous mesh serving and logs every problem with the file name,
// like Envoy's filesystem subscription: "If a configuration update rejection occurs, the
// last valid configuration for the xDS API will continue to apply" (xDS protocol doc,
// "Filesystem subscriptions").
import { EventEmitter } from 'node:events';
import { ConfigError } from '../../config/issues';
import { log } from '../../log';
import { Mesh, loadMesh } from './mesh';

export interface MeshState {
  readonly mesh: Mesh;
  /** Bumped each time served content changes; also the SotW/Delta system version prefix. */
  readonly generation: number;
  readonly loadedAt: string;
}

export interface ReloadError {
  readonly time: string;
  readonly message: string;
}

export class MeshStore extends EventEmitter {
  private state: MeshState;
  private lastText: string;
  lastError: ReloadError | undefined;

  /** Loads `file`; throws a ConfigError if the first load is bad (nothing to serve yet). */
  constructor(readonly file: string) {
    super();
    const { mesh, text } = loadMesh(file);
    this.state = { mesh, generation: 1, loadedAt: new Date().toISOString() };
    this.lastText = text;
  }

  get current(): MeshState {
    return this.state;
  }

  /**
   * Re-reads the file. Returns true if a new mesh is now served. Emits 'change' with the new
   * MeshState when the served content changed (a whitespace-only edit changes nothing).
   */
  reload(): boolean {
    let loaded: { mesh: Mesh; text: string };
    try {
      loaded = loadMesh(this.file);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (this.lastError?.message !== e.message) {
        log.error('mesh reload rejected; still serving the previous version', {
          file: this.file,
          generation: this.state.generation,
          errors: e.message,
        });
      }
      this.lastError = { time: new Date().toISOString(), message: e.message };
      return false;
    }
    if (loaded.text === this.lastText && !this.lastError) return false;
    this.lastText = loaded.text;
    this.lastError = undefined;
    if (loaded.mesh.digest === this.state.mesh.digest) return false;
    this.state = { mesh: loaded.mesh, generation: this.state.generation + 1, loadedAt: new Date().toISOString() };
    log.info('mesh reloaded', { file: this.file, generation: this.state.generation, digest: loaded.mesh.digest });
    this.emit('change', this.state);
    return true;
  }
}
