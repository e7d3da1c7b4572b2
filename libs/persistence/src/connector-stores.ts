import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConnectorStateEntity } from './entities/connector-state.entity';
import { CrossReferenceEntity } from './entities/cross-reference.entity';
import { runSql } from './sql';
import { ConnectionStore } from './stores';

/** One side of a cross-reference, as the admin API lists it. */
export interface CrossReference {
  system: string;
  entityType: string;
  key: string;
  externalId: string;
  updatedAt: Date;
}

/**
 * The cross-reference table (canonical key ↔ a system's id). Connectors reach it only through the
 * SDK's CrossReferences, scoped to their own connection by `forSystem`.
 */
@Injectable()
export class CrossReferenceStore {
  constructor(private readonly dataSource: DataSource) {}

  forSystem(system: string) {
    return {
      externalId: (entityType: string, key: string) => this.externalId(system, entityType, key),
      keyOf: (entityType: string, externalId: string) => this.keyOf(system, entityType, externalId),
      remember: (entityType: string, key: string, externalId: string) => this.remember(system, entityType, key, externalId),
    };
  }

  async externalId(system: string, entityType: string, key: string): Promise<string | undefined> {
    const row = await this.dataSource.getRepository(CrossReferenceEntity).findOneBy({ system, entityType, canonicalKey: key });
    return row?.externalId;
  }

  async keyOf(system: string, entityType: string, externalId: string): Promise<string | undefined> {
    const row = await this.dataSource.getRepository(CrossReferenceEntity).findOne({ where: { system, entityType, externalId }, order: { updatedAt: 'DESC' } });
    return row?.canonicalKey;
  }

  /** Upsert: a key points at one external id per system; the newest answer wins. */
  async remember(system: string, entityType: string, key: string, externalId: string): Promise<void> {
    await runSql(
      this.dataSource,
      `INSERT INTO cross_references (system, entity_type, canonical_key, external_id, updated_at) VALUES (:system, :entityType, :key, :externalId, :now)
       ON CONFLICT (system, entity_type, canonical_key) DO UPDATE SET external_id = excluded.external_id, updated_at = excluded.updated_at`,
      { system, entityType, key, externalId, now: new Date() },
    );
  }

  async find(filter: { system?: string; entityType?: string; key?: string; externalId?: string }, limit = 100): Promise<CrossReference[]> {
    const rows = await this.dataSource.getRepository(CrossReferenceEntity).find({
      where: { system: filter.system, entityType: filter.entityType, canonicalKey: filter.key, externalId: filter.externalId },
      order: { system: 'ASC', entityType: 'ASC', canonicalKey: 'ASC' },
      take: limit,
    });
    return rows.map((r) => ({ system: r.system, entityType: r.entityType, key: r.canonicalKey, externalId: r.externalId, updatedAt: r.updatedAt }));
  }
}

/**
 * Partners' acknowledgements of deliveries (an EDI 997 for a 940). A connector reaches it only
 * through the SDK's DeliveryAcknowledgements, scoped to the deliveries its own connection sent.
 */
@Injectable()
export class DeliveryAcknowledgementStore {
  constructor(private readonly dataSource: DataSource) {}

  forConnection(connectionId: string, messageId?: string) {
    return {
      record: async (deliveryId: string, acknowledgement: { status: string; detail?: string }): Promise<boolean> => {
        const { rows } = await runSql<{ delivery_id: string }>(
          this.dataSource,
          `INSERT INTO delivery_acknowledgements (delivery_id, connection_id, status, detail, message_id, received_at)
           SELECT id, destination_connection_id, :status, :detail, :messageId, :now FROM deliveries WHERE id = :deliveryId AND destination_connection_id = :connectionId
           ON CONFLICT (delivery_id) DO UPDATE SET status = excluded.status, detail = excluded.detail, message_id = excluded.message_id, received_at = excluded.received_at
           RETURNING delivery_id`,
          { deliveryId, connectionId, status: acknowledgement.status, detail: acknowledgement.detail ?? null, messageId: messageId ?? null, now: new Date() },
        );
        return rows.length > 0;
      },
    };
  }
}

/** Where a polled connection's cursor lives in its connector state (written by the worker's PollService, shown by the admin API). */
export const POLL_CURSOR_KEY = 'poll.cursor';

/**
 * Per-connection key/value state for connectors (poll cursors, rotated credentials). Values are
 * sealed with the connections' secret box, like their secrets: a connector may keep a refresh
 * token here, and nothing readable of it is at rest.
 */
@Injectable()
export class ConnectorStateStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly connections: ConnectionStore,
  ) {}

  forConnection(connectionId: string) {
    return {
      get: async <T = unknown>(key: string): Promise<T | undefined> => {
        const row = await this.dataSource.getRepository(ConnectorStateEntity).findOneBy({ connectionId, key });
        return row ? (JSON.parse(this.connections.secretBox.open(row.value).value) as T) : undefined;
      },
      set: async (key: string, value: unknown): Promise<void> => {
        await runSql(
          this.dataSource,
          `INSERT INTO connector_state (connection_id, key, value, updated_at) VALUES (:connectionId, :key, :value, :now)
           ON CONFLICT (connection_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          { connectionId, key, value: this.connections.secretBox.seal({ value: JSON.stringify(value) }), now: new Date() },
        );
      },
      nextInSequence: (name: string, wrapAt = Number.MAX_SAFE_INTEGER) => this.nextInSequence(connectionId, name, wrapAt),
    };
  }

  /** One statement, so two processes asking at once get two numbers (the row lock orders them). */
  private async nextInSequence(connectionId: string, name: string, wrapAt: number): Promise<number> {
    const { rows } = await runSql<{ value: number | string }>(
      this.dataSource,
      `INSERT INTO connector_sequences (connection_id, name, value) VALUES (:connectionId, :name, 1)
       ON CONFLICT (connection_id, name) DO UPDATE SET value = CASE WHEN connector_sequences.value >= :wrapAt THEN 1 ELSE connector_sequences.value + 1 END
       RETURNING value`,
      { connectionId, name, wrapAt },
    );
    return Number(rows[0].value);
  }
}
