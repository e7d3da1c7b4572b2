import { Global, Module } from '@nestjs/common';
import { DestinationPolicy, HUB_CONFIG, HubConfig } from '@omnihub/core';
import { AxiosHttpClient } from './http-client';
import { ConnectorRegistry } from './registry';

export const HTTP_CLIENT = Symbol('HTTP_CLIENT');

@Global()
@Module({
  providers: [
    { provide: ConnectorRegistry, useFactory: () => ConnectorRegistry.load() },
    { provide: DestinationPolicy, useFactory: (config: HubConfig) => new DestinationPolicy(config.allowedPrivateDestinations), inject: [HUB_CONFIG] },
    { provide: HTTP_CLIENT, useFactory: (policy: DestinationPolicy) => new AxiosHttpClient(policy), inject: [DestinationPolicy] },
  ],
  exports: [ConnectorRegistry, DestinationPolicy, HTTP_CLIENT],
})
export class ConnectorsModule {}
