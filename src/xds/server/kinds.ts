// The resource types the reference management server serves, and how each is named.
//
// Type URLs are `type.googleapis.com/<full message name>` (Envoy xDS protocol doc,
// "Resource types": https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#resource-types).
// Only Listener and Cluster support the wildcard subscription (protocol doc, "How the
// client specifies what resources to return": "Wildcard subscriptions ... only supported
// for Listener, Cluster and ScopedRouteConfiguration"); every other type is requested by name.
import { TYPE_PREFIX } from '../proto/canonical';

export type MeshKey = 'listeners' | 'route_configurations' | 'clusters' | 'cluster_load_assignments' | 'secrets';

export interface ResourceKind {
  /** The key of this type's list in a mesh file group. */
  readonly key: MeshKey;
  /** Full proto message name. */
  readonly typeName: string;
  readonly typeUrl: string;
  /** The field that names a resource (ClusterLoadAssignment is named by its cluster). */
  readonly nameField: 'name' | 'cluster_name';
  /** Whether an empty first request means "everything" (the legacy wildcard). */
  readonly wildcard: boolean;
  /** The singleton API's short name, for logs. */
  readonly short: string;
}

function kind(key: MeshKey, typeName: string, nameField: 'name' | 'cluster_name', wildcard: boolean, short: string): ResourceKind {
  return { key, typeName, typeUrl: TYPE_PREFIX + typeName, nameField, wildcard, short };
}

export const KINDS: readonly ResourceKind[] = [
  kind('listeners', 'envoy.config.listener.v3.Listener', 'name', true, 'LDS'),
  kind('route_configurations', 'envoy.config.route.v3.RouteConfiguration', 'name', false, 'RDS'),
  kind('clusters', 'envoy.config.cluster.v3.Cluster', 'name', true, 'CDS'),
  kind('cluster_load_assignments', 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'cluster_name', false, 'EDS'),
  kind('secrets', 'envoy.extensions.transport_sockets.tls.v3.Secret', 'name', false, 'SDS'),
];

const BY_URL = new Map(KINDS.map((k) => [k.typeUrl, k]));

/** The kind for a request's type_url, or undefined for a type this server does not serve. */
export function kindOf(typeUrl: string): ResourceKind | undefined {
  return BY_URL.get(typeUrl);
}

/** The explicit wildcard resource name (protocol doc, "How the client specifies what resources to return"). */
export const WILDCARD = '*';
