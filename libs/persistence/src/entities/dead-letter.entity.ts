import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ErrorDetail, ReasonCode } from '@omnihub/core';
import { JsonColumn, TimestampColumn } from '../columns';

export type DeadLetterStage = 'transform' | 'deliver';
export type DeadLetterStatus = 'open' | 'replayed' | 'discarded';

/**
 * Work the hub could not finish, kept until a person replays or discards it. One row per failing
 * subject (a delivery, or a message at the transform stage): failing again after a replay reopens it.
 */
@Entity('dead_letters')
@Index(['status', 'createdAt'])
export class DeadLetterEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  /** The delivery id (deliver stage) or the message id (transform stage). */
  @Index({ unique: true }) @Column({ type: 'varchar', length: 36, name: 'subject_id' }) subjectId!: string;
  @Column({ type: 'varchar', length: 20 }) stage!: DeadLetterStage;
  @Index() @Column({ type: 'varchar', length: 36, name: 'message_id' }) messageId!: string;
  @Column({ type: 'varchar', length: 36, name: 'delivery_id', nullable: true }) deliveryId!: string | null;
  /** The connection whose work failed: the source at transform, the destination at delivery. */
  @Index() @Column({ type: 'varchar', length: 36, name: 'connection_id' }) connectionId!: string;
  @Column({ type: 'varchar', length: 40, name: 'reason_code' }) reasonCode!: ReasonCode;
  @Column({ type: 'text' }) error!: string;
  /** The failure this is an occurrence of: errorFingerprint(reasonCode, error), the same for all its occurrences. */
  @Column({ type: 'varchar', length: 16, default: '' }) fingerprint!: string;
  @Column(JsonColumn()) details!: ErrorDetail[];
  @Column({ type: 'varchar', length: 20 }) status!: DeadLetterStatus;
  @Column({ type: 'integer', name: 'replay_count', default: 0 }) replayCount!: number;
  @Column({ type: 'text', name: 'discard_reason', nullable: true }) discardReason!: string | null;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
