import { DynamicModule, Global, Module } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from './config';
import { HubLifecycle } from './lifecycle';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: HubConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: HUB_CONFIG, useValue: config }, HubLifecycle], exports: [HUB_CONFIG, HubLifecycle] };
  }
}
