// `switchyard proxy`: load and validate the bootstrap (nothing starts when it has errors),
// start the server, and drain on SIGTERM/SIGINT.
import { loadBootstrapFile } from './config/bootstrap';
import { ConfigError } from './config/issues';
import { log } from './log';
import cluster from 'node:cluster';
import { SwitchyardServer, type ServerOptions } from './server';
import { runPrimary, runWorker } from './workers';
import './filters/network/index';

export interface ProxyOptions {
  configPath: string;
  drainTimeS: number;
  concurrency: number;
  logLevel: string;
  logFormat: 'text' | 'json';
}

export async function runProxy(o: ProxyOptions): Promise<void> {
  let bootstrap;
  try {
    bootstrap = loadBootstrapFile(o.configPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.message + '\n');
      process.exit(1);
    }
    throw e;
  }
  const opts: ServerOptions = {
    drainTimeS: o.drainTimeS,
    commandLine: { config_path: o.configPath, drain_time_s: o.drainTimeS, concurrency: o.concurrency, log_level: o.logLevel, log_format: o.logFormat },
  };
  if (o.concurrency > 1) {
    // Workers re-run this same command line; cluster.isWorker tells them apart.
    if (cluster.isPrimary) await runPrimary(bootstrap, o.concurrency, opts);
    else await runWorker(bootstrap, opts);
    return;
  }
  const server = new SwitchyardServer(bootstrap, opts);
  const stop = (sig: string) => {
    void server.shutdown(sig).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await server.start();
  } catch (e) {
    log.error('startup failed', { error: (e as Error).message });
    process.exit(1);
  }
}
