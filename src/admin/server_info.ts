// GET /server_info: envoy.admin.v3.ServerInfo in proto3 JSON (durations as "123s").
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--server_info
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/admin/v3/server_info.proto
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AdminHost, ServerState } from './host';
import { toProtoJson } from './proto_json';

/**
 * The state the admin reports. Envoy reports DRAINING while health checks are failed
 * (POST /healthcheck/fail), whatever the init state; /ready and /server_info agree.
 */
export function effectiveState(host: AdminHost): ServerState {
  return host.healthCheckFailed ? 'DRAINING' : host.state();
}

let cachedVersion: string | undefined;

/** package.json's version; this file sits two levels below the package root in src/ and dist/. */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    cachedVersion = '0.0.0';
  }
  return cachedVersion!;
}

/**
 * Envoy's version string is "<build sha>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<TLS library>";
 * tools split it on '/' and read the second part, so keep that layout.
 */
export function versionString(): string {
  return `switchyard/${packageVersion()}/Clean/RELEASE/OpenSSL-${process.versions.openssl}`;
}

function nodeJson(host: AdminHost): Record<string, unknown> {
  const raw = host.bootstrap.raw?.node;
  let node: Record<string, unknown>;
  if (raw && typeof raw === 'object') {
    node = { ...toProtoJson('envoy.config.core.v3.Node', raw) };
  } else {
    const n = host.bootstrap.node;
    node = {};
    if (n.id) node.id = n.id;
    if (n.cluster) node.cluster = n.cluster;
    if (n.metadata && Object.keys(n.metadata).length) node.metadata = n.metadata;
    if (n.locality && Object.keys(n.locality).length) node.locality = n.locality;
  }
  // What Envoy adds to the node it sends to the control plane.
  if (node.user_agent_name === undefined) node.user_agent_name = 'switchyard';
  return node;
}

export function serverInfo(host: AdminHost, now = Date.now()): Record<string, unknown> {
  const uptime = `${Math.max(0, Math.floor((now - host.startTime.getTime()) / 1000))}s`;
  return {
    version: versionString(),
    state: effectiveState(host),
    // No hot restart: there is one epoch, so both uptimes are the same.
    hot_restart_version: 'disabled',
    command_line_options: host.commandLineOptions(),
    node: nodeJson(host),
    uptime_current_epoch: uptime,
    uptime_all_epochs: uptime,
  };
}
