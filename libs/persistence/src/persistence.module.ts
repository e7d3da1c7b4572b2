import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import { DataSource } from 'typeorm';
import { ENTITIES, dataSourceOptions, serialiseSqliteTransactions } from './data-source';
import { ConnectorStateStore, CrossReferenceStore, DeliveryAcknowledgementStore } from './connector-stores';
import { ConnectionStore, RouteStore } from './stores';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [HUB_CONFIG],
      // Fail fast: the boot check has already said what to start if the database is down.
      useFactory: (config: HubConfig) => ({ ...dataSourceOptions(config), retryAttempts: 0 }),
      dataSourceFactory: async (options) => serialiseSqliteTransactions(new DataSource(options!)).initialize(),
    }),
    TypeOrmModule.forFeature(ENTITIES),
  ],
  providers: [ConnectionStore, RouteStore, CrossReferenceStore, ConnectorStateStore, DeliveryAcknowledgementStore],
  exports: [TypeOrmModule, ConnectionStore, RouteStore, CrossReferenceStore, ConnectorStateStore, DeliveryAcknowledgementStore],
})
export class PersistenceModule {}
