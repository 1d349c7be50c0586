// Listener filters Switchyard implements: original_dst, original_src, tls_inspector,
// http_inspector (their run-time side is src/listeners/listener_filters.ts). Fields they
// do not act on are rejected by name rather than ignored.
import type { ConfigIssues } from '../../config/issues';
import { join } from '../../config/issues';
import type { Canon } from '../../xds/proto/canonical';
import { NOT_SUPPORTED, onlyFields, readBool, readNumber } from '../../xds/resources/fields';
import { registerExtension } from '../registry';

const PREFIX = 'type.googleapis.com/envoy.extensions.filters.listener';

export const TLS_INSPECTOR_TYPE_URL = `${PREFIX}.tls_inspector.v3.TlsInspector`;
export const HTTP_INSPECTOR_TYPE_URL = `${PREFIX}.http_inspector.v3.HttpInspector`;
export const ORIGINAL_DST_TYPE_URL = `${PREFIX}.original_dst.v3.OriginalDst`;
export const ORIGINAL_SRC_TYPE_URL = `${PREFIX}.original_src.v3.OriginalSrc`;

export interface OriginalSrcConfig {
  /** Bind the upstream socket to the downstream's source port as well as its address. */
  bindPort: boolean;
  /** SO_MARK for the upstream socket (0 = none); TPROXY setups route marked replies back. */
  mark: number;
}

function empty(c: Canon, path: string, issues: ConfigIssues): Record<string, never> {
  onlyFields(c, path, issues, []);
  return {};
}

function decodeTlsInspector(c: Canon, path: string, issues: ConfigIssues): Record<string, never> {
  // initial_read_buffer_size only sizes Envoy's first peek; Node reads what arrives.
  onlyFields(c, path, issues, ['enable_ja3_fingerprinting', 'initial_read_buffer_size']);
  if (readBool(c, 'enable_ja3_fingerprinting', false)) issues.add(join(path, 'enable_ja3_fingerprinting'), `true is ${NOT_SUPPORTED}`);
  return {};
}

function decodeOriginalSrc(c: Canon, path: string, issues: ConfigIssues): OriginalSrcConfig {
  onlyFields(c, path, issues, ['bind_port', 'mark']);
  return { bindPort: readBool(c, 'bind_port', false), mark: readNumber(c, 'mark', 0) };
}

registerExtension('listener', { typeUrl: TLS_INSPECTOR_TYPE_URL, wellKnownName: 'envoy.filters.listener.tls_inspector', decode: decodeTlsInspector });
registerExtension('listener', { typeUrl: HTTP_INSPECTOR_TYPE_URL, wellKnownName: 'envoy.filters.listener.http_inspector', decode: empty });
registerExtension('listener', { typeUrl: ORIGINAL_DST_TYPE_URL, wellKnownName: 'envoy.filters.listener.original_dst', decode: empty });
registerExtension('listener', { typeUrl: ORIGINAL_SRC_TYPE_URL, wellKnownName: 'envoy.filters.listener.original_src', decode: decodeOriginalSrc });
