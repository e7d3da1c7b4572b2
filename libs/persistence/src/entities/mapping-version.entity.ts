import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

/** One published version of a JSONata mapping. The highest version of a mapping id is live. */
@Entity('mapping_versions')
export class MappingVersionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 200, name: 'mapping_id' }) mappingId!: string;
  @Column({ type: 'integer' }) version!: number;
  @Column({ type: 'text' }) expression!: string;
  @Column({ type: 'varchar', length: 100, name: 'target_event_type', nullable: true }) targetEventType!: string | null;
  /** `file` when loaded from mappings/, `api` when published through the admin API. */
  @Column({ type: 'varchar', length: 20 }) origin!: string;
  @Column({ type: 'varchar', length: 64, name: 'content_hash' }) contentHash!: string;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
}
