import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

export type AcknowledgementStatus = 'accepted' | 'partially_accepted' | 'rejected';

/** What the destination said of a delivery it had accepted (an EDI 997 for a 940); the latest word wins. */
@Entity('delivery_acknowledgements')
export class DeliveryAcknowledgementEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, name: 'delivery_id' }) deliveryId!: string;
  @Column({ type: 'varchar', length: 36, name: 'connection_id' }) connectionId!: string;
  @Column({ type: 'varchar', length: 20 }) status!: AcknowledgementStatus;
  @Column({ type: 'text', nullable: true }) detail!: string | null;
  /** The message that carried the acknowledgement. */
  @Column({ type: 'varchar', length: 36, name: 'message_id', nullable: true }) messageId!: string | null;
  @Column(TimestampColumn({ name: 'received_at' })) receivedAt!: Date;
}
