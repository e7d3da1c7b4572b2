import { ConnectorModule } from '@omnihub/connector-sdk';
import { amazonInbound } from './inbound';
import { amazonOutbound } from './outbound';
import { amazonPoller } from './poller';

const connector: ConnectorModule = { inbound: amazonInbound, outbound: amazonOutbound, poller: amazonPoller };
export = connector;
