import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimestampColumn } from '../columns';

@Entity('routes')
export class RouteEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Index() @Column({ type: 'varchar', length: 36, name: 'source_connection_id' }) sourceConnectionId!: string;
  @Column(JsonColumn({ name: 'event_types' })) eventTypes!: string[];
  /** JSONata predicate over the canonical event; null means every event of the listed types. */
  @Column({ type: 'text', nullable: true }) filter!: string | null;
  @Column({ type: 'varchar', length: 36, name: 'destination_connection_id' }) destinationConnectionId!: string;
  @Column({ type: 'boolean', default: true }) enabled!: boolean;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
