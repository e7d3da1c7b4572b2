import { ConnectionContext, baseUrlOf } from '@omnihub/connector-sdk';

export const SQUARE_API = 'https://connect.squareup.com';
/** Square pins behaviour to a dated API version; sent on every call so an account upgrade cannot change answers under us. */
export const DEFAULT_SQUARE_VERSION = '2025-01-23';

export interface SquareSettings {
  /** The URL Square was given for the subscription (it signs this exact text), or undefined to use the hub's webhook URL. */
  notificationUrl?: string;
  /** Default location for outbound inventory when a location code has no cross-reference. */
  locationId?: string;
  squareVersion: string;
  apiBase: string;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** The connection's config with defaults filled in (the manifest's schema has validated its shape). */
export function settingsOf(connection: ConnectionContext): SquareSettings {
  const { config } = connection;
  return {
    // Not trimmed: Square signs the URL byte for byte.
    notificationUrl: typeof config.notificationUrl === 'string' && config.notificationUrl !== '' ? config.notificationUrl : undefined,
    locationId: text(config.locationId),
    squareVersion: text(config.squareVersion) ?? DEFAULT_SQUARE_VERSION,
    apiBase: baseUrlOf(connection, SQUARE_API),
  };
}
