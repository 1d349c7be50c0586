// Resolves a `typed_config` (google.protobuf.Any, canonical form) against the extension
// registry (src/filters/registry.ts). Envoy semantics: an extension whose type is not
// known is a config error unless the filter is marked `is_optional`, in which case it
// is skipped with a log line (design convention 5).
import { ConfigIssues } from '../../config/issues';
import type { NetworkFilterConfig } from '../../config/types';
import { ExtensionKind, findExtension } from '../../filters/registry';
import { log } from '../../log';
import { Canon, TYPE_PREFIX, typeName } from '../proto/canonical';

export interface DecodedExtension {
  typeUrl: string;
  config: unknown;
}

/**
 * Decodes `typedConfig` (the Any at `path`) with the registered decoder of `kind`.
 * Returns undefined when it is absent (reported as `is required`), unsupported
 * (reported, unless `optional`), or skipped.
 */
export function decodeTypedConfig(
  kind: ExtensionKind,
  typedConfig: Canon | undefined,
  path: string,
  issues: ConfigIssues,
  opts: { optional?: boolean; name?: string } = {},
): DecodedExtension | undefined {
  if (!typedConfig) {
    issues.add(path, 'is required');
    return undefined;
  }
  const typeUrl: string = typedConfig['@type'];
  // Registry keys use the standard prefix; Envoy ignores the URL's host part.
  const ext = typedConfig['@unknown'] ? undefined : findExtension(kind, TYPE_PREFIX + typeName(String(typeUrl)));
  if (!ext) {
    if (opts.optional) {
      log.info('skipping optional extension that switchyard does not support', { name: opts.name, type: typeUrl });
      return undefined;
    }
    issues.add(path, `unsupported typed_config @type "${typeUrl}"`);
    return undefined;
  }
  const { ['@type']: _t, ...config } = typedConfig;
  return { typeUrl, config: ext.decode(config, path, issues) };
}

/** Same, producing the NetworkFilterConfig entry used for network and listener filters. */
export function decodeFilterEntry(
  kind: ExtensionKind,
  name: string,
  typedConfig: Canon | undefined,
  path: string,
  issues: ConfigIssues,
  optional = false,
): NetworkFilterConfig | undefined {
  const d = decodeTypedConfig(kind, typedConfig, path, issues, { optional, name });
  return d && { name, typeUrl: d.typeUrl, config: d.config };
}
