import { ConnectorModule } from '@omnihub/connector-sdk';
import { netsuiteOutbound } from './outbound';

const connector: ConnectorModule = { outbound: netsuiteOutbound };
export = connector;
