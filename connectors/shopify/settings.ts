import { ConnectionContext, baseUrlOf, text } from '@omnihub/connector-sdk';

export const DEFAULT_API_VERSION = '2026-10';
/** From this Admin API version, inventory mutations take the @idempotent directive (mandatory from 2026-04). */
export const IDEMPOTENT_FROM_VERSION = '2026-01';

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
