// Extensions register by their full type URL, one per file (design convention 5,
// Envoy's REGISTER_FACTORY). Decoding happens once per config; the decoded value is the
// factory input the runtime uses per connection / per stream.
import type { ConfigIssues } from '../config/issues';
import type { Canon } from '../xds/proto/canonical';

export interface ExtensionDecoder<T = unknown> {
  /** Full type URL, e.g. 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'. */
  typeUrl: string;
  /** Envoy's well-known filter name, e.g. 'envoy.filters.network.tcp_proxy'. */
  wellKnownName: string;
  /** Decodes the typed_config (canonical form, without '@type'), reporting problems under `path`. */
  decode(config: Canon, path: string, issues: ConfigIssues): T;
}

export type ExtensionKind = 'network' | 'http' | 'listener';

const registries: Record<ExtensionKind, Map<string, ExtensionDecoder>> = {
  network: new Map(),
  http: new Map(),
  listener: new Map(),
};

export function registerExtension(kind: ExtensionKind, d: ExtensionDecoder): void {
  registries[kind].set(d.typeUrl, d);
}

export function findExtension(kind: ExtensionKind, typeUrl: string): ExtensionDecoder | undefined {
  return registries[kind].get(typeUrl);
}

export function registeredTypeUrls(kind: ExtensionKind): string[] {
  return [...registries[kind].keys()];
}
