import { ConnectionContext, OAuth1Credentials, baseUrlOf, text } from '@omnihub/connector-sdk';

/** Where every record call goes under the account's REST host. */
export const RECORD_PATH = '/services/rest/record/v1';

export interface NetSuiteSettings {
  /** The account id as NetSuite writes it in the realm (`123456_SB1`). */
  accountId: string;
  apiBase: string;
}

/**
 * The account's REST host: `123456_SB1` becomes `123456-sb1.suitetalk.api.netsuite.com`, as
 * NetSuite spells sandbox accounts in host names.
 */
export function defaultApiBase(accountId: string): string {
  return `https://${accountId.toLowerCase().replace(/_/g, '-')}.suitetalk.api.netsuite.com`;
}

/** The connection's config with defaults filled in (the manifest's schema has validated its shape). */
export function settingsOf(connection: ConnectionContext): NetSuiteSettings {
  // Realms are upper case (`123456_SB1`); a lower-case sandbox id typed by hand is the same account.
  const accountId = (text(connection.config.accountId) ?? '').toUpperCase();
  return { accountId, apiBase: baseUrlOf(connection, defaultApiBase(accountId)) };
}

/** The token-based-authentication credentials, or the names of the secrets the connection lacks. */
export function credentialsOf(connection: ConnectionContext): { ok: true; credentials: OAuth1Credentials } | { ok: false; missing: string[] } {
  const { consumerKey, consumerSecret, tokenId, tokenSecret } = connection.secrets;
  const missing = Object.entries({ consumerKey, consumerSecret, tokenId, tokenSecret })
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, credentials: { consumerKey, consumerSecret, token: tokenId, tokenSecret } };
}
