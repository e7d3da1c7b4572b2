import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, DataSourceOptions, EntityManager } from 'typeorm';
import { HubConfig } from '@omnihub/core';
import { ApiKeyEntity } from './entities/api-key.entity';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { ConnectionEntity } from './entities/connection.entity';
import { ConnectorStateEntity } from './entities/connector-state.entity';
import { CrossReferenceEntity } from './entities/cross-reference.entity';
import { DeadLetterEntity } from './entities/dead-letter.entity';
import { DeliveryAcknowledgementEntity } from './entities/delivery-acknowledgement.entity';
import { DeliveryAttemptEntity } from './entities/delivery-attempt.entity';
import { DeliveryEntity } from './entities/delivery.entity';
import { MappingVersionEntity } from './entities/mapping-version.entity';
import { MessageEntity } from './entities/message.entity';
import { RouteEntity } from './entities/route.entity';
import { InitialSchema1764057600000 } from './migrations/1764057600000-initial-schema';
import { Lz4PayloadCompression1764072000000 } from './migrations/1764072000000-lz4-payload-compression';
import { ConnectorStages1764201600000 } from './migrations/1764201600000-connector-stages';
import { FlowControl1764288000000 } from './migrations/1764288000000-flow-control';
import { SecretKeyFingerprint1764374400000 } from './migrations/1764374400000-secret-key-fingerprint';
import { DeadLetterFingerprints1764460800000 } from './migrations/1764460800000-dead-letter-fingerprints';
import { ConnectorSequences1764547200000 } from './migrations/1764547200000-connector-sequences';
import { DeliveryAcknowledgements1764633600000 } from './migrations/1764633600000-delivery-acknowledgements';

/** Listed explicitly: entity globs break in a Nest monorepo build (nestjs/nest#5505). */
export const ENTITIES = [
  ConnectionEntity,
  RouteEntity,
  MappingVersionEntity,
  MessageEntity,
  DeliveryEntity,
  DeliveryAttemptEntity,
  DeadLetterEntity,
  ApiKeyEntity,
  AuditEntryEntity,
  CrossReferenceEntity,
  ConnectorStateEntity,
  DeliveryAcknowledgementEntity,
];

export const MIGRATIONS = [InitialSchema1764057600000, Lz4PayloadCompression1764072000000, ConnectorStages1764201600000, FlowControl1764288000000, SecretKeyFingerprint1764374400000, DeadLetterFingerprints1764460800000, ConnectorSequences1764547200000, DeliveryAcknowledgements1764633600000];

export function dataSourceOptions(config: HubConfig): DataSourceOptions {
  const common = { entities: ENTITIES, migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false } as const;
  if (config.databaseUrl) {
    // The hot statements run on a pool of their own, planned their own way (queryPrepared, sql.ts).
    return { ...common, type: 'postgres', url: config.databaseUrl, extra: { max: 20 } };
  }
  fs.mkdirSync(path.dirname(config.sqlitePath), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.sqlitePath,
    // WAL lets the api and worker roles read while the other writes; busy_timeout rides out their overlap.
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
    },
  };
}

/**
 * better-sqlite3 has one connection, so TypeORM gives every transaction the same query runner: two
 * transactions open at once nest as savepoints of each other, and one's commit or rollback ends
 * the other's ("no such savepoint", or a claim rolled back after its send went out). Transactions
 * on SQLite therefore run one at a time. A transactional manager's own nested calls are not
 * queued (they go through that manager, not this one), so nesting cannot deadlock.
 */
export function serialiseSqliteTransactions(dataSource: DataSource): DataSource {
  if (dataSource.options.type !== 'better-sqlite3') return dataSource;
  const manager = dataSource.manager;
  const transaction = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  let tail: Promise<unknown> = Promise.resolve();
  manager.transaction = ((...args: unknown[]) => {
    const run = tail.then(() => transaction(...args));
    tail = run.catch(() => undefined);
    return run;
  }) as EntityManager['transaction'];
  return dataSource;
}
