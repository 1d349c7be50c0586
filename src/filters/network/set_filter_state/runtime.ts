// envoy.filters.network.set_filter_state at run time: evaluates its format strings once per
// connection into the connection's filter state (ConnectionInfo.filterState).
import type { Socket } from 'node:net';
import { connectionInfo, connectionInfoFromSocket, attachConnectionInfo } from '../../../listeners/connection_info';
import { evalHeaderFormat, type FormatContext } from '../../../routing/header_format';
import type { RequestHead } from '../../../http/stream';
import type { SetFilterStateConfig } from './config';

/** No request exists when a connection opens; the formats were checked to need none. */
const NO_REQUEST = {} as RequestHead;

export function setConnectionFilterState(cfg: SetFilterStateConfig, s: Socket): void {
  let info = connectionInfo(s);
  if (info === undefined) {
    info = connectionInfoFromSocket(s);
    attachConnectionInfo(s, info);
  }
  const ctx: FormatContext = {
    head: NO_REQUEST,
    remoteAddress: info.remoteAddress,
    remotePort: info.remotePort,
    localAddress: info.localAddress,
    localPort: info.localPort,
    startTimeMs: Date.now(),
  };
  for (const v of cfg.onNewConnection) {
    const value = evalHeaderFormat(v.format, ctx);
    if (value === '' && v.skipIfEmpty) continue;
    (info.filterState ??= new Map()).set(v.key, value);
  }
}
