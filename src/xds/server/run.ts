// `switchyard control-plane -c mesh.yaml`: serves the mesh over ADS, reloads it when the file
// changes, and shows per-stream state at GET /status.
import { ConfigError } from '../../config/issues';
import { log } from '../../log';
import { ManagementServer, parseAddress } from './server';
import { MeshStore } from './store';
import { watchFile } from './watch';

export interface ControlPlaneOptions {
  meshPath: string;
  address: string;
  statusAddress: string;
}

export async function runControlPlane(opts: ControlPlaneOptions): Promise<void> {
  let store: MeshStore;
  try {
    store = new MeshStore(opts.meshPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`switchyard: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const server = new ManagementServer(store);
  let ads;
  let status;
  try {
    ads = await server.listenAds(parseAddress(opts.address));
    status = await server.listenStatus(parseAddress(opts.statusAddress));
  } catch (e) {
    log.error('cannot listen', { error: e as Error });
    await server.close();
    process.exit(1);
  }
  const watcher = watchFile(opts.meshPath, () => store.reload());
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal: sig });
    watcher.close();
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Announce only once the signal handlers are in place: callers (and tests) act on this line.
  log.info('listening', {
    xds: `${ads.host}:${ads.port}`,
    status: `http://${status.host}:${status.port}/status`,
    mesh: opts.meshPath,
    generation: store.current.generation,
  });
}
