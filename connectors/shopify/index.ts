import { ConnectorModule } from '@omnihub/connector-sdk';
import { shopifyInbound } from './inbound';
import { shopifyOutbound } from './outbound';

const connector: ConnectorModule = { inbound: shopifyInbound, outbound: shopifyOutbound };
export = connector;
