import { DynamicModule, Global, Module } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from './config';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: HubConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: HUB_CONFIG, useValue: config }], exports: [HUB_CONFIG] };
  }
}
