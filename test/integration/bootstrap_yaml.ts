// Pieces of bootstrap YAML that many integration tests share: the admin block, an HTTP
// listener (connection manager, one virtual host for every domain, the router filter) and a
// tcp_proxy listener.
// ${..._PORT} placeholders are left for the harness (startProxy) to fill in.

/** `admin:` on 127.0.0.1:${ADMIN_PORT}. */
export const ADMIN_YAML = 'admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${ADMIN_PORT} } } }';

/** One route of a virtual host: `prefix` to `cluster`, then `extra` route-action lines (indented to sit under `cluster:`). */
export function routeYaml(prefix: string, cluster: string, extra = ''): string {
  return `
              - match: { prefix: "${prefix}" }
                route:
                  cluster: ${cluster}${extra}`;
}

/** A listener item (under `listeners:`) named `name` on 127.0.0.1:${portVar} with one network filter. */
function listenerYaml(name: string, portVar: string, filter: string, typedConfig: string): string {
  return `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: \${${portVar}} } }
    filter_chains:
    - filters:
      - name: ${filter}
        typed_config:${typedConfig}`;
}

/**
 * A listener item named `name` on 127.0.0.1:${portVar}: an HTTP connection manager with
 * `statPrefix`, whose one virtual host (domains "*") has `routes` (routeYaml items), and the
 * router filter.
 */
export function hcmListenerYaml(name: string, portVar: string, statPrefix: string, routes: string): string {
  return listenerYaml(name, portVar, 'envoy.filters.network.http_connection_manager', `
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:${routes}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`);
}

/** A listener item named `name` on 127.0.0.1:${portVar}: tcp_proxy to `cluster`, then `extra` TcpProxy fields (indented under `cluster:`). */
export function tcpProxyListenerYaml(name: string, portVar: string, statPrefix: string, cluster: string, extra = ''): string {
  return listenerYaml(name, portVar, 'envoy.filters.network.tcp_proxy', `
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${statPrefix}
          cluster: ${cluster}${extra}`);
}
