import { Injectable } from '@nestjs/common';
import { StoredEvent } from '@omnihub/connector-sdk';
import { DeliveryEntity } from '@omnihub/persistence';

/** What a delivery attempt starts from: the delivery's fields and its message's stored event. */
export type DeliveryToSend = Pick<DeliveryEntity, 'id' | 'messageId' | 'destinationConnectionId' | 'entityKey' | 'entityVersion' | 'status' | 'attempts' | 'roundStartAttempts' | 'dataOverride'>;
/**
 * `newestDelivered`: the newest version of the delivery's entity delivered to its destination when
 * it was read (`at`), if that was read with it; the stale check then needs no query of its own.
 */
export type LoadedDelivery = { delivery: DeliveryToSend; stored: StoredEvent | null; newestDelivered?: { version: string | null; at: number } };

/** Few enough that the buffer stays under a megabyte however far the delivery queues fall behind. */
const MAX_ENTRIES = 256;
/** Past this a delivery's state may have moved on elsewhere (another process, a retry): read it from the database. */
const MAX_AGE_MS = 2000;

/**
 * Deliveries this process just created, handed from the transform to the delivery worker so that
 * the first attempt skips its database read (one round trip and one wait less on every message's
 * way out). Taken once: a repeated or later job for the same delivery reads the database, which
 * stays the record. A delivery whose job runs in another process, or after MAX_AGE_MS, or that
 * was pushed out by newer ones, is simply read from the database as before.
 */
@Injectable()
export class DeliveryHandoff {
  private readonly entries = new Map<string, { loaded: LoadedDelivery; at: number }>();

  /** Called once the deliveries are committed, before their jobs are enqueued. */
  offer(loaded: LoadedDelivery[]): void {
    const at = Date.now();
    for (const entry of loaded) {
      this.entries.delete(entry.delivery.id);
      this.entries.set(entry.delivery.id, { loaded: entry, at });
    }
    // A Map iterates in insertion order: the oldest go first.
    for (const id of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(id);
    }
  }

  /**
   * `attempts`: the attempt number the job was enqueued for. Only the job of the attempt the entry
   * was made for takes it: a later job of the same delivery (a replay that came within MAX_AGE_MS,
   * its first job having read the database) must not start from the stale state.
   */
  take(deliveryId: string, attempts: number): LoadedDelivery | undefined {
    const entry = this.entries.get(deliveryId);
    if (!entry) return undefined;
    this.entries.delete(deliveryId);
    return Date.now() - entry.at <= MAX_AGE_MS && entry.loaded.delivery.attempts === attempts ? entry.loaded : undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
