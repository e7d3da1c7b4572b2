import { Logger } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { Batcher, MessageEntity } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';

export interface IngestResult {
  messageId: string;
  duplicate: boolean;
}

/** Postgres allows 65,535 bind parameters per statement; 14 columns × 500 rows stays well inside it. */
const MAX_BATCH = 500;

/**
 * Group commit for ingress: requests that arrive while a write is in flight share one multi-row
 * INSERT … ON CONFLICT DO NOTHING and one BullMQ addBulk; each 202 is sent only after its row is committed.
 */
export class IngestBatcher {
  private readonly logger = new Logger(IngestBatcher.name);
  private readonly group = new Batcher<MessageEntity, IngestResult>((rows) => this.write(rows), MAX_BATCH);

  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
  ) {}

  submit(row: MessageEntity): Promise<IngestResult> {
    return this.group.submit(row);
  }

  private async write(rows: MessageEntity[]): Promise<IngestResult[]> {
    await this.dataSource.createQueryBuilder().insert().into(MessageEntity).values(rows).orIgnore().execute();

    // Rows with a vendor delivery id may have lost to an earlier message with the same id; ask which won.
    const keyed = rows.filter((r) => r.vendorDeliveryId !== null);
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

    // Committed: the 202 is owed now. If Redis is unavailable the relay enqueues these later.
    const accepted = results.filter((r) => !r.duplicate).map((r) => r.messageId);
    try {
      await this.queues.enqueueTransforms(accepted);
    } catch (error) {
      this.logger.warn(`enqueue of ${accepted.length} messages deferred to the relay: ${(error as Error).message}`);
    }
    return results;
  }
}
