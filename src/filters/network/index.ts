// Registers every network filter's config decoder (each file registers itself by type URL).
import './tcp_proxy/config';
import './http_connection_manager/config';
import './set_filter_state/config';
