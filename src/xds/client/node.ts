// The `node` the client identifies itself with on the first request of every stream
// (xDS protocol doc: "Only the first request on a stream is guaranteed to carry the node
// identifier"). Besides the bootstrap's id/cluster/metadata/locality it carries the user
// agent (envoy.config.core.v3.Node.user_agent_name and, like Envoy, the structured
// user_agent_build_version) and client_features from Envoy's "Well Known Client Features"
// (https://www.envoyproxy.io/docs/envoy/latest/api/client_features), listing only what
// this client really does.
import * as protobuf from 'protobufjs';
import { NodeInfo } from '../../config/types';
import { toBinary } from '../proto/binary';
import { Canon } from '../proto/canonical';
import { mustLookupType } from '../proto/root';
import { VERSION } from '../../version';

export const USER_AGENT_NAME = 'switchyard';

/** The client unwraps envoy.service.discovery.v3.Resource inside SotW responses (sotw.ts). */
export const FEATURE_RESOURCE_IN_SOTW = 'xds.config.resource-in-sotw';
/** The proxy's load balancer ignores ClusterLoadAssignment.policy.overprovisioning_factor. */
export const FEATURE_NO_OVERPROVISIONING = 'envoy.lb.does_not_support_overprovisioning';

export interface NodeOptions {
  /** Set when the load balancer does not implement overprovisioning (the proxy knows). */
  lbDoesNotSupportOverprovisioning?: boolean;
  /** Further features the embedding proxy supports. */
  extraClientFeatures?: readonly string[];
}

/** 'x.y.z[-pre]' → SemanticVersion fields; missing or non-numeric parts are 0. */
export function semanticVersion(v: string): { major_number: number; minor_number: number; patch: number } {
  const [a, b, c] = v.split(/[.+-]/).map((p) => Number.parseInt(p, 10));
  const n = (x: number | undefined) => (x !== undefined && Number.isFinite(x) && x >= 0 ? x : 0);
  return { major_number: n(a), minor_number: n(b), patch: n(c) };
}

export function clientFeatures(opts: NodeOptions = {}): string[] {
  const f = new Set<string>([FEATURE_RESOURCE_IN_SOTW]);
  if (opts.lbDoesNotSupportOverprovisioning) f.add(FEATURE_NO_OVERPROVISIONING);
  for (const x of opts.extraClientFeatures ?? []) f.add(x);
  return [...f];
}

/** The node in canonical form (what /config_dump and logs show). */
export function nodeCanon(info: NodeInfo, opts: NodeOptions = {}): Canon {
  const node: Canon = { id: info.id, cluster: info.cluster };
  if (info.metadata && Object.keys(info.metadata).length) node.metadata = info.metadata;
  if (info.locality) node.locality = { ...info.locality };
  node.user_agent_name = USER_AGENT_NAME;
  node.user_agent_build_version = { version: semanticVersion(VERSION), metadata: { version: VERSION } };
  node.client_features = clientFeatures(opts);
  return node;
}

/**
 * The node as a protobufjs message, ready to be the `node` of a (Delta)DiscoveryRequest.
 * It goes through the one canonical→binary encoder (Struct metadata included).
 */
export function nodeMessage(info: NodeInfo, opts: NodeOptions = {}): protobuf.Message {
  const t = mustLookupType('envoy.config.core.v3.Node');
  return t.decode(toBinary(t, nodeCanon(info, opts)));
}
