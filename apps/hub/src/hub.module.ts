import { DynamicModule, Module } from '@nestjs/common';
import { ApiModule } from '../../api/src/api.module';
import { WorkerModule } from '../../worker/src/worker.module';
import { ConfigModule, HubConfig, MetricsModule } from '@omnihub/core';
import { ConnectorsModule } from '@omnihub/connector-sdk';
import { MappingModule } from '@omnihub/mapping';
import { PersistenceModule } from '@omnihub/persistence';
import { QueueingModule } from '@omnihub/queueing';
import { OpsModule } from './ops/ops.module';

/** Shared infrastructure plus the roles this process plays (HUB_ROLE: all, api or worker). */
@Module({})
export class HubModule {
  static forConfig(config: HubConfig): DynamicModule {
    const roles = [];
    if (config.role !== 'worker') roles.push(ApiModule);
    if (config.role !== 'api') roles.push(WorkerModule);
    return {
      module: HubModule,
      imports: [ConfigModule.forRoot(config), MetricsModule, PersistenceModule, QueueingModule, ConnectorsModule, MappingModule, OpsModule, ...roles],
    };
  }
}
