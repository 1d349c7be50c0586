// The admin HTTP API, shaped like Envoy's admin interface so the same tools and habits
// work (curl localhost:15000/clusters, Prometheus on /stats/prometheus, readiness probes
// on /ready). Built on node:http: the admin is not on the request hot path.
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminHost } from './host';
import { clustersJson, clustersText } from './clusters_text';
import { configDump, UnknownResourceError } from './config_dump';
import { prometheusText } from './prometheus';
import { parseStatsQuery, selectStats, statsJson, statsText, StatsQueryError } from './stats_text';
import { serverInfo, effectiveState } from './server_info';
import { isLevel, LEVELS, log } from '../log';

interface Reply {
  status: number;
  body: string;
  type: 'text' | 'json';
  headers?: Record<string, string>;
  /** Runs once the response has been written (POST /quitquitquit). */
  after?: () => void;
}

interface Endpoint {
  help: string;
  /** Changes server state: only POST is accepted (a GET has no effect). */
  mutates: boolean;
  handle(host: AdminHost, q: URLSearchParams): Reply;
}

const text = (body: string, status = 200): Reply => ({ status, body, type: 'text' });
const json = (v: unknown, status = 200): Reply => ({ status, body: JSON.stringify(v, null, 2) + '\n', type: 'json' });
const wantsJson = (q: URLSearchParams) => q.get('format') === 'json';

function loggingText(): string {
  // One logger; Envoy lists one line per component logger in the same shape.
  return `active loggers:\n  switchyard: ${log.level}\n`;
}

function listenersReply(host: AdminHost, q: URLSearchParams): Reply {
  const ls = host.listeners();
  if (!wantsJson(q)) return text(ls.map((l) => `${l.config.name}::${l.boundAddress}\n`).join(''));
  const listener_statuses = ls.map((l) => {
    const { address, port } = splitHostPort(l.boundAddress);
    const socket_address: Record<string, unknown> = { address };
    if (port) socket_address.port_value = port;
    return { name: l.config.name, local_address: { socket_address } };
  });
  return json(listener_statuses.length ? { listener_statuses } : {});
}

/** '0.0.0.0:10000' → {address:'0.0.0.0', port:10000}; '[::1]:80' → {address:'::1', port:80}. */
export function splitHostPort(s: string): { address: string; port: number } {
  const i = s.lastIndexOf(':');
  if (i < 0) return { address: s, port: 0 };
  let address = s.slice(0, i);
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  return { address, port: Number(s.slice(i + 1)) || 0 };
}

function statsReply(host: AdminHost, q: URLSearchParams, prometheus: boolean): Reply {
  let query;
  try {
    query = parseStatsQuery(q);
  } catch (e) {
    if (e instanceof StatsQueryError) return text(e.message + '\n', 400);
    throw e;
  }
  const samples = selectStats(host.stats, query);
  if (prometheus || q.get('format') === 'prometheus') {
    const names = host.clusters().map((c) => c.config.name);
    return { ...text(prometheusText(samples, names)), headers: { 'content-type': 'text/plain; version=0.0.4; charset=UTF-8' } };
  }
  return wantsJson(q) ? json(statsJson(samples)) : text(statsText(samples));
}

const ENDPOINTS: Record<string, Endpoint> = {
  '/': { help: 'this list of admin commands', mutates: false, handle: () => text(helpText()) },
  '/help': { help: 'this list of admin commands', mutates: false, handle: () => text(helpText()) },
  '/ready': {
    help: 'readiness: 200 LIVE when serving, 503 with the server state otherwise',
    mutates: false,
    handle: (host) => {
      const state = effectiveState(host);
      return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
    },
  },
  '/server_info': { help: 'server version, state, uptime, node and command line options (JSON)', mutates: false, handle: (host) => json(serverInfo(host)) },
  '/config_dump': {
    help: 'current configuration (JSON); ?resource=<field> selects one list, ?include_eds adds endpoints',
    mutates: false,
    handle: (host, q) => {
      try {
        return json(configDump(host, { resource: q.get('resource') ?? undefined, includeEds: q.has('include_eds') }));
      } catch (e) {
        if (e instanceof UnknownResourceError) return text(e.message + '\n', 404);
        throw e;
      }
    },
  },
  '/clusters': {
    help: 'upstream cluster status; ?format=json',
    mutates: false,
    handle: (host, q) => (wantsJson(q) ? json(clustersJson(host.clusters())) : text(clustersText(host.clusters()))),
  },
  '/listeners': { help: 'listeners and their bound addresses; ?format=json', mutates: false, handle: listenersReply },
  '/stats': {
    help: 'counters and gauges; ?filter=<regex>, ?usedonly, ?type=Counters|Gauges, ?format=json|prometheus',
    mutates: false,
    handle: (host, q) => statsReply(host, q, false),
  },
  '/stats/prometheus': { help: 'stats in the Prometheus text format; ?filter=<regex>, ?usedonly', mutates: false, handle: (host, q) => statsReply(host, q, true) },
  '/logging': {
    help: `list the log level (GET); POST ?level=<${LEVELS.join('|')}> sets it`,
    mutates: true, // the GET that only lists is let through in dispatch()
    handle: (host, q) => {
      const level = q.get('level');
      if (level !== null) {
        if (!isLevel(level)) return text(`invalid level '${level}'; expected one of ${LEVELS.join(', ')}\n`, 400);
        host.setLogLevel(level);
      }
      return text(loggingText());
    },
  },
  '/healthcheck/fail': {
    help: 'fail health checks: /ready answers 503 DRAINING until /healthcheck/ok (POST)',
    mutates: true,
    handle: (host) => {
      host.healthCheckFailed = true;
      return text('OK\n');
    },
  },
  '/healthcheck/ok': {
    help: 'stop failing health checks (POST)',
    mutates: true,
    handle: (host) => {
      host.healthCheckFailed = false;
      return text('OK\n');
    },
  },
  '/drain_listeners': {
    help: 'drain listeners; ?inboundonly drains inbound ones only, ?graceful drains gradually (POST)',
    mutates: true,
    handle: (host, q) => {
      host.drainListeners({ inboundOnly: q.has('inboundonly'), graceful: q.has('graceful') });
      return text('OK\n');
    },
  },
  '/quitquitquit': {
    help: 'drain and exit (POST)',
    mutates: true,
    handle: (host) => ({ ...text('OK\n'), after: () => host.quit() }),
  },
};

export function helpText(): string {
  let out = 'admin commands are:\n';
  for (const [path, e] of Object.entries(ENDPOINTS)) out += `  ${path}: ${e.help}\n`;
  return out;
}

function dispatch(host: AdminHost, method: string, url: URL): Reply {
  const ep = Object.prototype.hasOwnProperty.call(ENDPOINTS, url.pathname) ? ENDPOINTS[url.pathname] : undefined;
  if (!ep) return text(`invalid path ${url.pathname}\n${helpText()}`, 404);
  const q = url.searchParams;
  const readOnlyLogging = url.pathname === '/logging' && !q.has('level');
  const isPost = method === 'POST';
  if (ep.mutates && !isPost && !readOnlyLogging) {
    // Envoy: "All mutations must be sent as HTTP POST operations"; a GET changes nothing.
    return { ...text(`${url.pathname} changes server state and requires POST; ${method} is not allowed\n`, 405), headers: { allow: 'POST' } };
  }
  if (!ep.mutates && method !== 'GET' && method !== 'HEAD' && !isPost) {
    return { ...text(`${method} is not allowed on ${url.pathname}\n`, 405), headers: { allow: 'GET, HEAD, POST' } };
  }
  return ep.handle(host, q);
}

function respond(res: http.ServerResponse, r: Reply): void {
  const body = Buffer.from(r.body);
  res.statusCode = r.status;
  res.setHeader('content-type', r.type === 'json' ? 'application/json' : 'text/plain; charset=UTF-8');
  res.setHeader('cache-control', 'no-cache, max-age=0');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-length', body.length);
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  if (r.after) res.once('finish', r.after);
  res.end(body);
}

async function onRequest(host: AdminHost, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // Bodies are not used by any endpoint; drain so keep-alive connections stay usable.
  req.resume();
  let reply: Reply;
  try {
    if (host.refresh) await host.refresh();
    const url = new URL(req.url ?? '/', 'http://admin');
    reply = dispatch(host, req.method ?? 'GET', url);
  } catch (e) {
    log.error('admin request failed', { url: req.url, err: e });
    reply = text(`internal error: ${e instanceof Error ? e.message : String(e)}\n`, 500);
  }
  respond(res, reply);
}

export interface AdminServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

/** Starts the admin server; resolves once it listens (port is the real one when 0 was asked). */
export function startAdmin(host: AdminHost, address: { address: string; port: number }): Promise<AdminServer> {
  const server = http.createServer((req, res) => void onRequest(host, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.address, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error('admin server error', { err }));
      const port = (server.address() as AddressInfo).port;
      log.info('admin listening', { address: address.address, port });
      resolve({
        server,
        port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}
