import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { CanonicalEvent, ReasonCode } from '@omnihub/core';
import { JsonColumn, TimestampColumn } from '../columns';

export const MessageStatus = {
  RECEIVED: 'received',
  TRANSFORMED: 'transformed',
  ROUTED: 'routed',
  COMPLETED: 'completed',
  DEAD_LETTERED: 'dead_lettered',
} as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** One inbound payload, as received. The system of record: queues only carry its id. */
@Entity('messages')
@Index(['connectionId', 'vendorDeliveryId'], { unique: true })
@Index(['status', 'updatedAt'])
export class MessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 36, name: 'connection_id' }) connectionId!: string;
  /** The sender's own id for this delivery; unique per connection, so a retried send is a duplicate. */
  @Column({ type: 'varchar', length: 200, name: 'vendor_delivery_id', nullable: true }) vendorDeliveryId!: string | null;
  @Column({ type: 'varchar', length: 200 }) topic!: string;
  @Column({ type: 'varchar', length: 100, name: 'event_type', nullable: true }) eventType!: string | null;
  @Column({ type: 'text', name: 'raw_body' }) rawBody!: string;
  /** A support engineer's corrected payload from a replay; used instead of rawBody when set. */
  @Column({ type: 'text', name: 'edited_body', nullable: true }) editedBody!: string | null;
  @Column(JsonColumn()) headers!: Record<string, string>;
  /** The canonical event, or for a message that became several, the JSON array of them (see canonicalEventsOf). */
  @Column(JsonColumn({ nullable: true })) canonical!: CanonicalEvent | CanonicalEvent[] | null;
  /** The business entity the message is about and its version, as the connector's extractor read them. */
  @Column({ type: 'varchar', length: 200, name: 'entity_key', nullable: true }) entityKey!: string | null;
  @Column({ type: 'varchar', length: 64, name: 'entity_version', nullable: true }) entityVersion!: string | null;
  /** What the connector's resolve stage fetched for a thin webhook; mapped instead of the body, and never fetched twice. */
  @Column({ type: 'text', name: 'resolved_body', nullable: true }) resolvedBody!: string | null;
  /**
   * Failed transform attempts so far: resolve fetches that failed and runs that threw for another
   * reason (the database, a crash). One retry budget for the stage, the source connection's `maxAttempts`.
   */
  @Column({ type: 'integer', name: 'transform_attempts', default: 0 }) transformAttempts!: number;
  @Column(TimestampColumn({ name: 'next_attempt_at', nullable: true })) nextAttemptAt!: Date | null;
  @Column({ type: 'varchar', length: 20 }) status!: MessageStatus;
  @Column({ type: 'varchar', length: 40, name: 'reason_code', nullable: true }) reasonCode!: ReasonCode | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column(TimestampColumn({ name: 'received_at' })) receivedAt!: Date;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}

/** A message's canonical events in order: none before the transform, one, or several. */
export function canonicalEventsOf(message: Pick<MessageEntity, 'canonical'>): CanonicalEvent[] {
  const { canonical } = message;
  if (!canonical) return [];
  return Array.isArray(canonical) ? canonical : [canonical];
}
