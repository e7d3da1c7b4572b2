import { ConnectorModule } from '@omnihub/connector-sdk';
import { genericHttpInbound } from './inbound';
import { genericHttpOutbound } from './outbound';

const connector: ConnectorModule = { inbound: genericHttpInbound, outbound: genericHttpOutbound };
export = connector;
