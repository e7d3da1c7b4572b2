import { Logger } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { MessageEntity } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';

export interface IngestResult {
  messageId: string;
  duplicate: boolean;
}

interface Pending {
  row: MessageEntity;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

/** Postgres allows 65,535 bind parameters per statement; 14 columns × 500 rows stays well inside it. */
const MAX_BATCH = 500;

/**
 * Group commit for ingress. Requests that arrive while a write is in flight wait and then share one
 * multi-row INSERT … ON CONFLICT DO NOTHING and one BullMQ addBulk; each caller's promise resolves only
 * after its row is committed. At low load a batch is one request and adds no delay.
 */
export class IngestBatcher {
  private readonly logger = new Logger(IngestBatcher.name);
  private pending: Pending[] = [];
  private writing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
  ) {}

  submit(row: MessageEntity): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          const results = await this.write(batch.map((p) => p.row));
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(rows: MessageEntity[]): Promise<IngestResult[]> {
    await this.dataSource.createQueryBuilder().insert().into(MessageEntity).values(rows).orIgnore().execute();

    // Rows with a vendor delivery id may have lost to an earlier message with the same id; ask which won.
    const keyed = rows.filter((r) => r.vendorDeliveryId !== null);
    const winners = new Map<string, string>();
    if (keyed.length > 0) {
      const stored = await this.dataSource.getRepository(MessageEntity).find({
        select: { id: true, connectionId: true, vendorDeliveryId: true },
        where: { vendorDeliveryId: In([...new Set(keyed.map((r) => r.vendorDeliveryId!))]) },
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
