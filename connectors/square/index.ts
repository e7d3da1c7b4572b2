import { ConnectorModule } from '@omnihub/connector-sdk';
import { squareInbound } from './inbound';
import { squareOutbound } from './outbound';

const connector: ConnectorModule = { inbound: squareInbound, outbound: squareOutbound };
export = connector;
