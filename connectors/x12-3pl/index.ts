import { ConnectorModule } from '@omnihub/connector-sdk';
import { x12Inbound } from './inbound';
import { x12Outbound } from './outbound';

const connector: ConnectorModule = { inbound: x12Inbound, outbound: x12Outbound };
export = connector;
