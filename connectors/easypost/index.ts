import { ConnectorModule } from '@omnihub/connector-sdk';
import { easypostInbound } from './inbound';
import { easypostOutbound } from './outbound';

const connector: ConnectorModule = { inbound: easypostInbound, outbound: easypostOutbound };
export = connector;
