import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EntityRef } from '@omnihub/connector-sdk';
import { MessageEntity, MessageStatus } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { IngestBatcher, IngestResult } from './ingest-batcher';

export type { IngestResult } from './ingest-batcher';

/** An authentic vendor message, from a webhook (verified) or a poll, before it is stored. */
export interface IncomingMessage {
  connectionId: string;
  topic: string;
  /** The vendor's id for this message; a repeat of one already stored is a duplicate. */
  vendorDeliveryId?: string;
  entity?: EntityRef;
  /** Exactly as the vendor sent it (a webhook) or as the poller composed it. */
  rawBody: string;
  headers: Record<string, string>;
}

/**
 * The one way in for every message, whatever brought it: a durable, deduplicated group-commit
 * insert, then the transform's enqueue. Resolves once the row is committed, so a webhook's 202
 * and a poll's cursor both wait for exactly that.
 */
@Injectable()
export class IngestService {
  private readonly batcher: IngestBatcher;

  constructor(dataSource: DataSource, queues: QueueService) {
    this.batcher = new IngestBatcher(dataSource, queues);
  }

  submit(message: IncomingMessage): Promise<IngestResult> {
    const now = new Date();
    return this.batcher.submit(
      Object.assign(new MessageEntity(), {
        id: randomUUID(),
        connectionId: message.connectionId,
        vendorDeliveryId: message.vendorDeliveryId ?? null,
        topic: message.topic,
        entityKey: message.entity?.key ?? null,
        entityVersion: message.entity?.version ?? null,
        resolvedBody: null,
        transformAttempts: 0,
        nextAttemptAt: null,
        eventType: null,
        rawBody: message.rawBody,
        editedBody: null,
        headers: message.headers,
        canonical: null,
        status: MessageStatus.RECEIVED,
        reasonCode: null,
        error: null,
        receivedAt: now,
        updatedAt: now,
      }),
    );
  }

  /** Waits for the enqueues of every batch committed so far. */
  flushed(): Promise<void> {
    return this.batcher.flushed();
  }
}
