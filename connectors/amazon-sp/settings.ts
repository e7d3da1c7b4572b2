import { ConnectionContext, baseUrlOf } from '@omnihub/connector-sdk';

export const LWA_TOKEN_URL = 'https://api.amazon.com/auth/o2/token';
const REGION_HOSTS = { na: 'https://sellingpartnerapi-na.amazon.com', eu: 'https://sellingpartnerapi-eu.amazon.com', fe: 'https://sellingpartnerapi-fe.amazon.com' } as const;
/** getOrders refuses a LastUpdatedBefore later than two minutes ago; a little more leaves room for clock skew. */
export const NEWEST_POLLABLE_MS = 2 * 60 * 1000 + 5000;

export interface AmazonSettings {
  marketplaceIds: string[];
  apiBase: string;
  lwaUrl: string;
  pollIntervalMs: number;
  initialLookbackMs: number;
  /** Ask for a Restricted Data Token, so polled orders carry the full ship-to address and buyer (a 3PL needs them). */
  restrictedData: boolean;
}

/** The connection's config with defaults filled in (the manifest's schema has validated its shape). */
export function settingsOf(connection: ConnectionContext): AmazonSettings {
  const { config } = connection;
  const region = (typeof config.region === 'string' && config.region in REGION_HOSTS ? config.region : 'na') as keyof typeof REGION_HOSTS;
  return {
    marketplaceIds: Array.isArray(config.marketplaceIds) ? config.marketplaceIds.filter((m): m is string => typeof m === 'string') : [],
    apiBase: baseUrlOf(connection, REGION_HOSTS[region]),
    lwaUrl: typeof config.lwaUrl === 'string' && config.lwaUrl ? config.lwaUrl : LWA_TOKEN_URL,
    pollIntervalMs: (typeof config.pollIntervalSeconds === 'number' ? config.pollIntervalSeconds : 120) * 1000,
    initialLookbackMs: (typeof config.initialLookbackHours === 'number' ? config.initialLookbackHours : 24) * 3600 * 1000,
    restrictedData: config.restrictedData === true,
  };
}
