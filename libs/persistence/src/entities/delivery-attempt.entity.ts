import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ReasonCode } from '@omnihub/core';
import { TimestampColumn } from '../columns';

/** `superseded`: not sent, a newer version of its entity was delivered first (reason STALE_UPDATE). */
export type AttemptOutcome = 'delivered' | 'retry' | 'dead_letter' | 'superseded';

@Entity('delivery_attempts')
@Index(['deliveryId', 'attemptNumber'])
export class DeliveryAttemptEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 36, name: 'delivery_id' }) deliveryId!: string;
  @Column({ type: 'integer', name: 'attempt_number' }) attemptNumber!: number;
  @Column(TimestampColumn({ name: 'started_at' })) startedAt!: Date;
  @Column({ type: 'integer', name: 'latency_ms' }) latencyMs!: number;
  @Column({ type: 'integer', name: 'http_status', nullable: true }) httpStatus!: number | null;
  @Column({ type: 'varchar', length: 20 }) outcome!: AttemptOutcome;
  @Column({ type: 'varchar', length: 40, name: 'reason_code', nullable: true }) reasonCode!: ReasonCode | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  /** A circuit breaker's probe: recorded like any attempt, but it spends none of the delivery's retry budget. */
  @Column({ type: 'boolean', default: false }) probe!: boolean;
}
