import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ReasonCode, JsonObject } from '@omnihub/core';
import { JsonColumn, TimestampColumn } from '../columns';

export const DeliveryStatus = {
  PENDING: 'pending',
  DELIVERING: 'delivering',
  RETRYING: 'retrying',
  DELIVERED: 'delivered',
  DEAD_LETTERED: 'dead_lettered',
  SUPERSEDED: 'superseded',
  DISCARDED: 'discarded',
} as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

export const TERMINAL_DELIVERY_STATUSES: readonly DeliveryStatus[] = ['delivered', 'dead_lettered', 'superseded', 'discarded'];

/** One message on its way to one destination through one route. Its id is the Idempotency-Key. */
@Entity('deliveries')
@Index(['messageId', 'routeId', 'eventIndex'], { unique: true })
@Index(['status', 'updatedAt'])
@Index(['destinationConnectionId', 'entityKey'])
export class DeliveryEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 36, name: 'message_id' }) messageId!: string;
  @Column({ type: 'varchar', length: 36, name: 'route_id' }) routeId!: string;
  /** Which of the message's canonical events this delivers (0 for a message that became one). */
  @Column({ type: 'integer', name: 'event_index', default: 0 }) eventIndex!: number;
  @Column({ type: 'varchar', length: 36, name: 'destination_connection_id' }) destinationConnectionId!: string;
  /**
   * The entity this delivery updates at its destination (see entityOf), and its version as
   * comparable text: a delivery older than one already delivered for the same key is superseded.
   */
  @Column({ type: 'varchar', length: 300, name: 'entity_key', nullable: true }) entityKey!: string | null;
  @Column({ type: 'varchar', length: 80, name: 'entity_version', nullable: true }) entityVersion!: string | null;
  @Column({ type: 'varchar', length: 20 }) status!: DeliveryStatus;
  /** Attempts made over the delivery's whole life, replays included. */
  @Column({ type: 'integer', default: 0 }) attempts!: number;
  /** `attempts` when the current round began (0, or the count at the last replay): the retry budget counts from here. */
  @Column({ type: 'integer', default: 0, name: 'round_start_attempts' }) roundStartAttempts!: number;
  @Column(TimestampColumn({ name: 'next_attempt_at', nullable: true })) nextAttemptAt!: Date | null;
  @Column({ type: 'varchar', length: 40, name: 'reason_code', nullable: true }) reasonCode!: ReasonCode | null;
  @Column({ type: 'text', name: 'last_error', nullable: true }) lastError!: string | null;
  /** Canonical `data` edited by an operator on replay; replaces the message's data for this delivery only. */
  @Column(JsonColumn({ name: 'data_override', nullable: true })) dataOverride!: JsonObject | null;
  @Column(TimestampColumn({ name: 'delivered_at', nullable: true })) deliveredAt!: Date | null;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
