// Applies the request/response header mutations of a route table. The caller passes a
// precomputed chain (Route.requestChain, or WeightedClusterEntry.requestChain when a
// weighted cluster was picked) that is already in Envoy's order: most specific level
// first (weighted cluster, route, virtual host, route configuration), so a later level's
// OVERWRITE wins; most_specific_header_mutations_wins reverses it at config time.
// Within one level removals run before additions, as in Envoy, so a level can replace a
// header by removing and adding it.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/base.proto#enum-config-core-v3-headervalueoption-headerappendaction
import type { HeaderMap } from '../http/headers';
import { evalHeaderFormat, type FormatContext } from './header_format';
import type { HeaderMutations, HeaderValueOption } from './types';

export type { FormatContext } from './header_format';

function applyAdds(headers: HeaderMap, adds: readonly HeaderValueOption[], ctx: FormatContext): void {
  for (let i = 0; i < adds.length; i++) {
    const o = adds[i];
    const value = evalHeaderFormat(o.value, ctx);
    // An empty value is not added unless keep_empty_value (e.g. %REQ(x)% of a missing x).
    if (value === '' && !o.keepEmptyValue) continue;
    switch (o.appendAction) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        headers.add(o.key, value);
        break;
      case 'ADD_IF_ABSENT':
        if (!headers.has(o.key)) headers.add(o.key, value);
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        headers.set(o.key, value);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (headers.has(o.key)) headers.set(o.key, value);
        break;
    }
  }
}

function removeAll(headers: HeaderMap, names: readonly string[]): void {
  for (let i = 0; i < names.length; i++) headers.remove(names[i]);
}

/** Applies request_headers_to_remove / request_headers_to_add of each level, in chain order. */
export function applyRequestHeaderMutations(headers: HeaderMap, opsList: readonly HeaderMutations[], ctx: FormatContext): void {
  for (let i = 0; i < opsList.length; i++) {
    const m = opsList[i];
    removeAll(headers, m.requestHeadersToRemove);
    applyAdds(headers, m.requestHeadersToAdd, ctx);
  }
}

/** Applies response_headers_to_remove / response_headers_to_add of each level, in chain order. */
export function applyResponseHeaderMutations(headers: HeaderMap, opsList: readonly HeaderMutations[], ctx: FormatContext): void {
  for (let i = 0; i < opsList.length; i++) {
    const m = opsList[i];
    removeAll(headers, m.responseHeadersToRemove);
    applyAdds(headers, m.responseHeadersToAdd, ctx);
  }
}
