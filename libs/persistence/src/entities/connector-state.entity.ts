import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

/** A connection's small persistent state, e.g. a poller's cursor or a rotated credential (JSON, sealed by the secret box). */
@Entity('connector_state')
export class ConnectorStateEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, name: 'connection_id' }) connectionId!: string;
  @PrimaryColumn({ type: 'varchar', length: 100 }) key!: string;
  @Column({ type: 'text' }) value!: string;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
