// envoy.config.listener.v3.Listener (canonical form) → ListenerConfig.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto
import { ConfigIssues, join } from '../../config/issues';
import type { FilterChainConfig, FilterChainMatch, ListenerConfig, NetworkFilterConfig } from '../../config/types';
import type { Canon } from '../proto/canonical';
import { decodeAddress, decodeCidr, requireIp } from './address';
import { decodeFilterEntry } from './extension';
import {
  NOT_SUPPORTED, onlyFields, readBool, readDurationMs, readList, readMessage, readNumber, readString, requireField,
} from './fields';

const LISTENER_FIELDS = [
  'name', 'address', 'stat_prefix', 'filter_chains', 'default_filter_chain', 'use_original_dst',
  'per_connection_buffer_limit_bytes', 'metadata', 'listener_filters', 'listener_filters_timeout',
  'continue_on_listener_filters_timeout', 'transparent', 'traffic_direction', 'bind_to_port',
];

const RAW_BUFFER = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export function decodeListener(canon: Canon, path: string, issues: ConfigIssues): ListenerConfig {
  onlyFields(canon, path, issues, LISTENER_FIELDS);
  requireField(canon, 'name', path, issues);
  const name = readString(canon, 'name', '');
  const address = decodeAddress(readMessage(canon, 'address'), join(path, 'address'), issues);
  if (requireField(canon, 'address', path, issues)) requireIp(address, join(path, 'address'), issues);

  const filterChains = readList(canon, 'filter_chains').map((fc, i) =>
    decodeFilterChain(fc, join(join(path, 'filter_chains'), i), issues, i));
  const dfc = readMessage(canon, 'default_filter_chain');
  const defaultFilterChain = dfc ? decodeFilterChain(dfc, join(path, 'default_filter_chain'), issues, -1) : undefined;
  // Envoy: "no filter chains specified" is an error for a listener that is not an api_listener.
  if (!filterChains.length && !defaultFilterChain) issues.add(join(path, 'filter_chains'), 'no filter chains specified');
  checkDuplicateMatches(filterChains, join(path, 'filter_chains'), issues);

  const listenerFilters: NetworkFilterConfig[] = [];
  readList(canon, 'listener_filters').forEach((lf: Canon, i: number) => {
    const p = join(join(path, 'listener_filters'), i);
    onlyFields(lf, p, issues, ['name', 'typed_config']);
    requireField(lf, 'name', p, issues);
    const e = decodeFilterEntry('listener', readString(lf, 'name', ''), readMessage(lf, 'typed_config'), join(p, 'typed_config'), issues);
    if (e) listenerFilters.push(e);
  });

  return {
    name,
    address,
    filterChains,
    defaultFilterChain,
    listenerFilters,
    // Envoy defaults: 15s listener filter timeout, 1 MiB buffer limit.
    listenerFiltersTimeoutMs: readDurationMs(canon, 'listener_filters_timeout', path, issues, 15000),
    continueOnListenerFiltersTimeout: readBool(canon, 'continue_on_listener_filters_timeout', false),
    useOriginalDst: readBool(canon, 'use_original_dst', false),
    transparent: readBool(canon, 'transparent', false),
    // Envoy: a listener with bind_to_port false only receives connections handed off by a
    // use_original_dst listener (Istio's per-service outbound listeners).
    bindToPort: readBool(canon, 'bind_to_port', true),
    perConnectionBufferLimitBytes: readNumber(canon, 'per_connection_buffer_limit_bytes', 1048576),
    raw: canon,
  };
}

function decodeFilterChain(fc: Canon, path: string, issues: ConfigIssues, index: number): FilterChainConfig {
  onlyFields(fc, path, issues, ['filter_chain_match', 'filters', 'transport_socket', 'name', 'metadata']);
  const filters: NetworkFilterConfig[] = [];
  readList(fc, 'filters').forEach((f: Canon, i: number) => {
    const p = join(join(path, 'filters'), i);
    onlyFields(f, p, issues, ['name', 'typed_config']);
    requireField(f, 'name', p, issues);
    const e = decodeFilterEntry('network', readString(f, 'name', ''), readMessage(f, 'typed_config'), join(p, 'typed_config'), issues);
    if (e) filters.push(e);
  });
  checkFilterOrder(filters, join(path, 'filters'), issues);
  return {
    name: readString(fc, 'name', index >= 0 ? `#${index}` : 'default'),
    match: decodeMatch(readMessage(fc, 'filter_chain_match'), join(path, 'filter_chain_match'), issues),
    filters,
    transportSocket: decodeTransportSocket(readMessage(fc, 'transport_socket'), join(path, 'transport_socket'), issues),
  };
}

/** raw_buffer → undefined (plain TCP); DownstreamTlsContext → kept for the TLS layer; anything else → error. */
function decodeTransportSocket(ts: Canon | undefined, path: string, issues: ConfigIssues): Canon | undefined {
  if (!ts) return undefined;
  onlyFields(ts, path, issues, ['name', 'typed_config']);
  const tc = readMessage(ts, 'typed_config');
  if (!tc) {
    if (readString(ts, 'name') === 'envoy.transport_sockets.raw_buffer') return undefined;
    issues.add(join(path, 'typed_config'), 'is required');
    return undefined;
  }
  const url = String(tc['@type']);
  if (url.endsWith('/' + RAW_BUFFER.split('/')[1])) return undefined;
  // TLS termination comes with the mTLS issue.
  if (url.endsWith('/' + DOWNSTREAM_TLS.split('/')[1])) {
    issues.add(join(path, 'typed_config'), `DownstreamTlsContext is ${NOT_SUPPORTED} yet`);
    return undefined;
  }
  issues.add(join(path, 'typed_config'), `unsupported typed_config @type "${url}"`);
  return undefined;
}

function decodeMatch(m: Canon | undefined, path: string, issues: ConfigIssues): FilterChainMatch {
  const out: FilterChainMatch = {
    prefixRanges: [], sourcePrefixRanges: [], sourcePorts: [], serverNames: [], applicationProtocols: [],
  };
  if (!m) return out;
  onlyFields(m, path, issues, [
    'destination_port', 'prefix_ranges', 'source_prefix_ranges', 'source_ports', 'server_names',
    'transport_protocol', 'application_protocols',
  ]);
  const dp = readNumber(m, 'destination_port');
  if (dp !== undefined) {
    if (dp < 1 || dp > 65535) issues.add(join(path, 'destination_port'), 'value must be in [1, 65535]');
    out.destinationPort = dp;
  }
  out.prefixRanges = readList(m, 'prefix_ranges').map((c, i) => decodeCidr(c, join(join(path, 'prefix_ranges'), i), issues));
  out.sourcePrefixRanges = readList(m, 'source_prefix_ranges').map((c, i) =>
    decodeCidr(c, join(join(path, 'source_prefix_ranges'), i), issues));
  out.sourcePorts = readList(m, 'source_ports');
  out.serverNames = readList(m, 'server_names');
  out.transportProtocol = readString(m, 'transport_protocol');
  out.applicationProtocols = readList(m, 'application_protocols');
  return out;
}

/** Envoy rejects a listener where two filter chains have the same match ("multiple filter chains with the same matching rules"). */
function checkDuplicateMatches(chains: FilterChainConfig[], path: string, issues: ConfigIssues): void {
  const seen = new Map<string, number>();
  chains.forEach((c, i) => {
    const key = JSON.stringify(c.match);
    const prev = seen.get(key);
    if (prev !== undefined) issues.add(join(path, i), `has the same filter_chain_match as filter_chains[${prev}]`);
    else seen.set(key, i);
  });
}

const TERMINAL_FILTERS = ['.http_connection_manager.v3.HttpConnectionManager', '.tcp_proxy.v3.TcpProxy'];

/** set_filter_state filters first, then exactly one terminal filter (the connection manager or tcp_proxy), last. */
function checkFilterOrder(filters: NetworkFilterConfig[], path: string, issues: ConfigIssues): void {
  const terminal = (f: NetworkFilterConfig) => TERMINAL_FILTERS.some((t) => f.typeUrl.endsWith(t));
  if (filters.length === 0) issues.add(path, 'needs a terminal filter (http_connection_manager or tcp_proxy)');
  filters.forEach((f, i) => {
    const last = i === filters.length - 1;
    if (terminal(f) && !last) issues.add(join(path, i), `${f.name} is a terminal filter and must be the last one of the chain`);
    if (!terminal(f) && last) issues.add(join(path, i), `the last filter must be a terminal filter (http_connection_manager or tcp_proxy), got ${f.name}`);
  });
}
