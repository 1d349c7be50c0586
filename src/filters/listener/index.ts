// Listener filters Switchyard implements (tls_inspector, http_inspector, original_dst).
// Their configs carry nothing Switchyard acts on, so each decodes to an empty object and
// any set field is rejected rather than ignored.
import type { ConfigIssues } from '../../config/issues';
import type { Canon } from '../../xds/proto/canonical';
import { onlyFields } from '../../xds/resources/fields';
import { registerExtension } from '../registry';

const PREFIX = 'type.googleapis.com/envoy.extensions.filters.listener';

export const TLS_INSPECTOR_TYPE_URL = `${PREFIX}.tls_inspector.v3.TlsInspector`;
export const HTTP_INSPECTOR_TYPE_URL = `${PREFIX}.http_inspector.v3.HttpInspector`;
export const ORIGINAL_DST_TYPE_URL = `${PREFIX}.original_dst.v3.OriginalDst`;

function empty(c: Canon, path: string, issues: ConfigIssues): Record<string, never> {
  onlyFields(c, path, issues, []);
  return {};
}

registerExtension('listener', { typeUrl: TLS_INSPECTOR_TYPE_URL, wellKnownName: 'envoy.filters.listener.tls_inspector', decode: empty });
registerExtension('listener', { typeUrl: HTTP_INSPECTOR_TYPE_URL, wellKnownName: 'envoy.filters.listener.http_inspector', decode: empty });
registerExtension('listener', { typeUrl: ORIGINAL_DST_TYPE_URL, wellKnownName: 'envoy.filters.listener.original_dst', decode: empty });
