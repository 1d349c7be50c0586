// Path normalisation for routing (HCM normalize_path / merge_slashes):
// RFC 3986 §5.2.4 dot-segment removal, optional merging of repeated slashes.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto#envoy-v3-api-field-extensions-filters-network-http-connection-manager-v3-httpconnectionmanager-normalize-path

/** Returns the normalised path+query, or null when the path is not valid (a 400). */
export function normalizePath(pathAndQuery: string, normalize: boolean, mergeSlashes: boolean): string | null {
  const q = pathAndQuery.indexOf('?');
  let path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q === -1 ? '' : pathAndQuery.slice(q);
  if (path.charCodeAt(0) !== 47) return null;
  if (normalize) {
    // Percent-encoded unreserved characters are decoded; '%2F' etc. are left alone.
    path = path.replace(/%(2[DdEe]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|5[Ff]|7[Ee])/g, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
    if (path.includes('\\')) path = path.replace(/\\/g, '/');
    path = removeDotSegments(path);
  }
  if (mergeSlashes) path = path.replace(/\/{2,}/g, '/');
  return path + query;
}

function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const out: string[] = [];
  const segs = path.split('/');
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    if (s === '.') {
      if (i === segs.length - 1) out.push('');
    } else if (s === '..') {
      out.pop();
      if (i === segs.length - 1) out.push('');
    } else out.push(s);
  }
  return '/' + out.join('/');
}
