// The domain decoders for resources that arrive over xDS: the same decoders the bootstrap
// uses (one decoder per resource type), with field paths relative to the resource. A bad
// resource becomes `{ error }`, every problem on its own `path: reason` line, which is the
// error_detail the ADS client NACKs it with (gRFC A46; design.md convention 2).
import { ConfigIssues } from '../../config/issues';
import type { ClusterConfig, ListenerConfig } from '../../config/types';
import { decodeRouteConfiguration } from '../../routing/decode';
import type { RouteTable } from '../../routing/types';
import type { Canon } from '../proto/canonical';
import { decodeCluster } from './cluster';
import { ClusterLoadAssignmentConfig, decodeClusterLoadAssignment } from './endpoint';
import { decodeListener } from './listener';

// Filter extensions register on import (design convention 5); a Listener needs them.
import '../../filters/network';
import '../../filters/listener';

export type DecodeResult<T> = { value: T } | { error: string };

type Decoder<T> = (canon: Canon, path: string, issues: ConfigIssues) => T;

/**
 * Runs `decode` on one resource. `nameField` / `name` guard against a resource whose own
 * name disagrees with the name it was delivered under (the client checks this too; the
 * decoders are also usable on their own).
 */
function run<T>(decode: Decoder<T>, canon: Canon, name: string, nameField: string): DecodeResult<T> {
  const issues = new ConfigIssues();
  const inner = canon?.[nameField];
  if (typeof inner === 'string' && inner !== '' && name !== '' && inner !== name) {
    issues.add(nameField, `"${inner}" differs from the resource name "${name}"`);
  }
  const value = decode(canon, '', issues);
  if (issues.ok) return { value };
  // The proto layer and a domain decoder may both report one problem (e.g. a required field).
  const lines = [...new Set(issues.list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)))];
  return { error: lines.join('\n') };
}

/** envoy.config.listener.v3.Listener */
export function decodeListenerResource(canon: Canon, name: string): DecodeResult<ListenerConfig> {
  return run(decodeListener, canon, name, 'name');
}

/** envoy.config.cluster.v3.Cluster */
export function decodeClusterResource(canon: Canon, name: string): DecodeResult<ClusterConfig> {
  return run(decodeCluster, canon, name, 'name');
}

/** envoy.config.route.v3.RouteConfiguration */
export function decodeRouteConfigurationResource(canon: Canon, name: string): DecodeResult<RouteTable> {
  return run(decodeRouteConfiguration, canon, name, 'name');
}

/** envoy.config.endpoint.v3.ClusterLoadAssignment (EDS: endpoints must be IP addresses). */
export function decodeClusterLoadAssignmentResource(canon: Canon, name: string): DecodeResult<ClusterLoadAssignmentConfig> {
  return run((c, p, i) => decodeClusterLoadAssignment(c, p, i), canon, name, 'cluster_name');
}
