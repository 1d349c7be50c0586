// The xDS client's public surface: AdsClient and the types its users see.
export { AdsClient, AdsClientOptions } from './ads_client';
export { BackoffOptions } from './backoff';
export { FEATURE_NO_OVERPROVISIONING, FEATURE_RESOURCE_IN_SOTW, USER_AGENT_NAME } from './node';
export { ResponseReport } from './protocol';
export * from './types';
