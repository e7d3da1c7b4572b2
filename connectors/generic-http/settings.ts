import { ConnectionContext } from '@omnihub/connector-sdk';

export interface GenericHttpConfig {
  signatureHeader: string;
  signatureEncoding: 'hex' | 'base64';
  signaturePrefix: string;
  deliveryIdHeader?: string;
  eventTypeHeader?: string;
  eventType?: string;
  mapping?: string;
  url?: string;
  outboundSignatureHeader: string;
}

/** The connection's config with the manifest's defaults filled in (the manifest has validated it). */
export function settingsOf(connection: ConnectionContext): GenericHttpConfig {
  const config = connection.config as Partial<GenericHttpConfig>;
  return {
    ...config,
    signatureHeader: (config.signatureHeader ?? 'x-omnihub-signature').toLowerCase(),
    signatureEncoding: config.signatureEncoding ?? 'hex',
    signaturePrefix: config.signaturePrefix ?? '',
    deliveryIdHeader: config.deliveryIdHeader?.toLowerCase(),
    eventTypeHeader: config.eventTypeHeader?.toLowerCase(),
    outboundSignatureHeader: config.outboundSignatureHeader ?? 'x-omnihub-signature',
  };
}
