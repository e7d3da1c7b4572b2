import { ConnectionContext, text } from '@omnihub/connector-sdk';
import { Party } from './x12/envelope';

export interface X12Settings {
  /** This side of the partnership (ISA05/06 of what the hub sends, ISA07/08 of what it receives). */
  us: Party;
  /** The warehouse. */
  partner: Party;
  usage: 'T' | 'P';
  /** Where the hub POSTs its documents (940s and 997s). */
  url?: string;
  /** The location of 846 items when the document names no warehouse in an N1. */
  locationCode?: string;
}

/** Mutually defined (ZZ) is what most 3PL partnerships use when no DUNS is agreed. */
const DEFAULT_QUALIFIER = 'ZZ';

/** The connection's config with defaults filled in (the manifest's schema has validated its shape). */
export function settingsOf(connection: ConnectionContext): X12Settings {
  const { config } = connection;
  return {
    us: { qualifier: text(config.senderQualifier) ?? DEFAULT_QUALIFIER, id: text(config.senderId) ?? '' },
    partner: { qualifier: text(config.receiverQualifier) ?? DEFAULT_QUALIFIER, id: text(config.receiverId) ?? '' },
    usage: config.usageIndicator === 'P' ? 'P' : 'T',
    url: text(config.url),
    locationCode: text(config.locationCode),
  };
}
