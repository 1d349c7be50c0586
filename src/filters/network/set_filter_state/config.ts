// envoy.filters.network.set_filter_state: on a new connection, sets filter-state objects from
// substitution format strings (string values, Envoy's default object factory). They are what
// `filter_state` hash policies read — on tcp_proxy and on routes of HTTP streams on the
// connection (an HTTP stream sees its connection's filter state, as in Envoy).
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/network_filters/set_filter_state
import { ConfigIssues, join } from '../../../config/issues';
import { parseHeaderFormat } from '../../../routing/header_format';
import type { HeaderValueFormat } from '../../../routing/types';
import type { Canon } from '../../../xds/proto/canonical';
import { NOT_SUPPORTED, onlyFields, readBool, readList, readMessage, readString, requireField } from '../../../xds/resources/fields';
import { registerExtension } from '../../registry';

export const SET_FILTER_STATE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.set_filter_state.v3.Config';

export interface FilterStateValue {
  key: string;
  format: HeaderValueFormat;
  skipIfEmpty: boolean;
}

export interface SetFilterStateConfig {
  onNewConnection: FilterStateValue[];
}

/** Commands a new connection can answer (there is no request or upstream yet). */
const CONNECTION_COMMANDS = new Set([
  'DOWNSTREAM_REMOTE_ADDRESS', 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_ADDRESS',
  'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', 'HOSTNAME', 'START_TIME',
]);

function decodeValue(v: Canon, path: string, issues: ConfigIssues): FilterStateValue | undefined {
  onlyFields(v, path, issues, ['object_key', 'factory_key', 'format_string', 'read_only', 'shared_with_upstream', 'skip_if_empty']);
  requireField(v, 'object_key', path, issues);
  if (readString(v, 'factory_key', '') !== '') issues.add(join(path, 'factory_key'), `${NOT_SUPPORTED} (values are strings, Envoy's default factory)`);
  const shared = readString(v, 'shared_with_upstream', 'NONE');
  if (shared !== 'NONE') issues.add(join(path, 'shared_with_upstream'), `${JSON.stringify(shared)} ${NOT_SUPPORTED} (only NONE)`);
  const fs = readMessage(v, 'format_string');
  const fp = join(path, 'format_string');
  if (!requireField(v, 'format_string', path, issues)) return undefined;
  onlyFields(fs, fp, issues, ['text_format', 'text_format_source']);
  const src = readMessage(fs, 'text_format_source');
  if (src) onlyFields(src, join(fp, 'text_format_source'), issues, ['inline_string']);
  const text = readString(fs, 'text_format') ?? readString(src, 'inline_string');
  if (text === undefined) {
    issues.add(fp, 'needs text_format or text_format_source.inline_string');
    return undefined;
  }
  const format = parseHeaderFormat(text);
  if (typeof format === 'string') {
    issues.add(fp, format);
    return undefined;
  }
  for (const part of format.parts) {
    if (typeof part !== 'string' && !CONNECTION_COMMANDS.has(part.t)) issues.add(fp, `%${part.t}% is not available when a connection opens`);
  }
  // read_only only stops later filters from overwriting the object; nothing later writes it.
  readBool(v, 'read_only');
  return { key: readString(v, 'object_key', ''), format, skipIfEmpty: readBool(v, 'skip_if_empty', false) };
}

export function decodeSetFilterState(c: Canon, path: string, issues: ConfigIssues): SetFilterStateConfig {
  onlyFields(c, path, issues, ['on_new_connection']);
  const onNewConnection: FilterStateValue[] = [];
  readList(c, 'on_new_connection').forEach((v: Canon, i: number) => {
    const d = decodeValue(v, join(join(path, 'on_new_connection'), i), issues);
    if (d) onNewConnection.push(d);
  });
  return { onNewConnection };
}

registerExtension('network', {
  typeUrl: SET_FILTER_STATE_TYPE_URL,
  wellKnownName: 'envoy.filters.network.set_filter_state',
  decode: decodeSetFilterState,
});
