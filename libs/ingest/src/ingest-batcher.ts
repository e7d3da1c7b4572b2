import { Logger } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { Batcher } from '@omnihub/core';
import { MessageEntity, isPostgres, queryPrepared, runSql, textArrayLiteral } from '@omnihub/persistence';
import { QueueService, TRANSFORM_JOB_SIZE } from '@omnihub/queueing';

export interface IngestResult {
  messageId: string;
  duplicate: boolean;
}

/**
 * After its commit (and its 202), a message waits this long for others to share its transform job:
 * below saturation ingest batches hold one or two messages, and every transform job costs its
 * queue moves, a read, a write and an enqueue however few messages it carries.
 */
const ENQUEUE_LINGER_MS = 10;
/** PostgreSQL allows 65,535 bind parameters per statement, SQLite 32,766: 10 columns × 500 rows stays inside both. */
const MAX_BATCH = 500;

const INSERT_MESSAGES = `
  INSERT INTO messages (id, connection_id, vendor_delivery_id, topic, entity_key, entity_version, raw_body, headers, status, received_at, updated_at)
  SELECT id, connection_id, vendor_delivery_id, topic, entity_key, entity_version, raw_body, headers, status, received_at, received_at
  FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::text[], $8::text[], $9::varchar[], $10::timestamptz[])
    AS r(id, connection_id, vendor_delivery_id, topic, entity_key, entity_version, raw_body, headers, status, received_at)
  ON CONFLICT DO NOTHING RETURNING id`;

/**
 * Group commit for ingress: requests that arrive while a write is in flight share one multi-row
 * INSERT … ON CONFLICT DO NOTHING; each 202 is sent once its row is committed. The transform's
 * addBulk runs after the 202 (for the messages of ENQUEUE_LINGER_MS together) and beside the next
 * INSERT, so a Redis round trip never holds a webhook's answer.
 */
export class IngestBatcher {
  private readonly logger = new Logger(IngestBatcher.name);
  private readonly group = new Batcher<MessageEntity, IngestResult>((rows) => this.write(rows), MAX_BATCH);
  /** The transform enqueues, chained so they run one after another in commit order. */
  private enqueued: Promise<void> = Promise.resolve();
  /** Committed messages whose transform is not enqueued yet (see ENQUEUE_LINGER_MS). */
  private lingering: string[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
  ) {}

  submit(row: MessageEntity): Promise<IngestResult> {
    return this.group.submit(row);
  }

  private async write(rows: MessageEntity[]): Promise<IngestResult[]> {
    const inserted = await this.insert(rows);

    // A row that was not inserted lost to an earlier message with the same vendor delivery id; ask which.
    const keyed = rows.filter((r) => !inserted.has(r.id) && r.vendorDeliveryId !== null);
    const winners = new Map<string, string>();
    if (keyed.length > 0) {
      const stored = await this.dataSource.getRepository(MessageEntity).find({
        select: { id: true, connectionId: true, vendorDeliveryId: true },
        where: { connectionId: In([...new Set(keyed.map((r) => r.connectionId))]), vendorDeliveryId: In([...new Set(keyed.map((r) => r.vendorDeliveryId!))]) },
      });
      for (const s of stored) winners.set(`${s.connectionId}\u0000${s.vendorDeliveryId}`, s.id);
    }
    const results = rows.map((row): IngestResult => {
      if (row.vendorDeliveryId === null) return { messageId: row.id, duplicate: false };
      const winner = winners.get(`${row.connectionId}\u0000${row.vendorDeliveryId}`) ?? row.id;
      return { messageId: winner, duplicate: winner !== row.id };
    });

    // Committed: the 202 is owed now, so the enqueue does not hold it (a crash before the enqueue,
    // or Redis being down, leaves `received` rows that the relay enqueues).
    for (const result of results) if (!result.duplicate) this.lingering.push(result.messageId);
    // A full job goes at once.
    if (this.lingering.length >= TRANSFORM_JOB_SIZE) this.enqueueLingering();
    else if (this.lingering.length > 0 && !this.lingerTimer) this.lingerTimer = setTimeout(() => this.enqueueLingering(), ENQUEUE_LINGER_MS).unref();
    return results;
  }

  private enqueueLingering(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const ids = this.lingering;
    this.lingering = [];
    if (ids.length > 0) this.enqueued = this.enqueued.then(() => this.enqueue(ids));
  }

  /** Enqueues what lingers now, and waits for the enqueues of every batch committed so far. */
  flushed(): Promise<void> {
    this.enqueueLingering();
    return this.enqueued;
  }

  private async enqueue(messageIds: string[]): Promise<void> {
    try {
      await this.queues.enqueueTransforms(messageIds);
    } catch (error) {
      this.logger.warn(`enqueue of ${messageIds.length} messages deferred to the relay: ${(error as Error).message}`);
    }
  }

  /**
   * One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id: the answer names the rows that
   * were new, so duplicates cost a second query only when there are any. Written by hand because
   * this is the hottest statement of the hub: on PostgreSQL with the rows as arrays (constant text,
   * a prepared statement; see queryPrepared), on SQLite as VALUES.
   */
  private async insert(rows: MessageEntity[]): Promise<Set<string>> {
    if (isPostgres()) {
      const inserted = await queryPrepared<{ id: string }>(this.dataSource, 'omnihub_ingest', INSERT_MESSAGES, [
        rows.map((r) => r.id),
        rows.map((r) => r.connectionId),
        rows.map((r) => r.vendorDeliveryId),
        rows.map((r) => r.topic),
        rows.map((r) => r.entityKey),
        rows.map((r) => r.entityVersion),
        textArrayLiteral(rows.map((r) => r.rawBody)),
        textArrayLiteral(rows.map((r) => JSON.stringify(r.headers))),
        rows.map((r) => r.status),
        rows.map((r) => r.receivedAt),
      ]);
      return new Set(inserted.map((row) => row.id));
    }
    const params: Record<string, unknown> = {};
    const values = rows
      .map((r, i) => {
        Object.assign(params, {
          [`id${i}`]: r.id,
          [`connection${i}`]: r.connectionId,
          [`vendor${i}`]: r.vendorDeliveryId,
          [`topic${i}`]: r.topic,
          [`entity${i}`]: r.entityKey,
          [`version${i}`]: r.entityVersion,
          [`body${i}`]: r.rawBody,
          [`headers${i}`]: JSON.stringify(r.headers),
          [`status${i}`]: r.status,
          [`received${i}`]: r.receivedAt,
        });
        return `(:id${i}, :connection${i}, :vendor${i}, :topic${i}, :entity${i}, :version${i}, :body${i}, :headers${i}, :status${i}, :received${i}, :received${i})`;
      })
      .join(', ');
    const result = await runSql<{ id: string }>(
      this.dataSource,
      `INSERT INTO messages (id, connection_id, vendor_delivery_id, topic, entity_key, entity_version, raw_body, headers, status, received_at, updated_at)
       VALUES ${values} ON CONFLICT DO NOTHING RETURNING id`,
      params,
    );
    return new Set(result.rows.map((row) => row.id));
  }
}
