import { ConnectionContext, baseUrlOf, text } from '@omnihub/connector-sdk';

export const DEFAULT_API_VERSION = '2026-10';
/** From this Admin API version, inventory mutations take the @idempotent directive (mandatory from 2026-04). */
export const IDEMPOTENT_FROM_VERSION = '2026-01';
/**
 * inventorySetQuantities' compare check by version: from 2026-01 each quantity takes
 * `changeFromQuantity` (explicit null opts out of the check); from 2026-04 it is mandatory and
 * `compareQuantity` / `ignoreCompareQuantity` are gone. Before 2026-01 only `ignoreCompareQuantity` opts out.
 */
export const CHANGE_FROM_QUANTITY_FROM_VERSION = '2026-01';
export const CHANGE_FROM_QUANTITY_REQUIRED_FROM_VERSION = '2026-04';

export interface ShopifySettings {
  shopDomain: string | undefined;
  apiVersion: string;
  /** https://<shop>.myshopify.com, or the connection's baseUrl (a proxy, a test's fake). */
  apiBase: string;
}

export function settingsOf(connection: ConnectionContext): ShopifySettings {
  const shopDomain = text(connection.config.shopDomain)?.toLowerCase();
  return {
    shopDomain,
    apiVersion: text(connection.config.apiVersion) ?? DEFAULT_API_VERSION,
    apiBase: baseUrlOf(connection, `https://${shopDomain ?? 'unknown-shop.myshopify.com'}`),
  };
}
