import { Global, Module } from '@nestjs/common';
import { AxiosHttpClient } from './http-client';
import { ConnectorRegistry } from './registry';

export const HTTP_CLIENT = Symbol('HTTP_CLIENT');

@Global()
@Module({
  providers: [
    { provide: ConnectorRegistry, useFactory: () => ConnectorRegistry.load() },
    { provide: HTTP_CLIENT, useFactory: () => new AxiosHttpClient() },
  ],
  exports: [ConnectorRegistry, HTTP_CLIENT],
})
export class ConnectorsModule {}
