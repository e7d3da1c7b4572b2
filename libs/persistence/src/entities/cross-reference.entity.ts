import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

/**
 * One thing known to two sides: the hub's canonical key for it (a SKU, a location code) and the
 * id one system (a connection) gives it. Written by connectors when a vendor answers with its id
 * or a lookup finds it, and by integrators who map locations by hand.
 */
@Entity('cross_references')
@Index('idx_xrefs_external', ['system', 'entityType', 'externalId'])
export class CrossReferenceEntity {
  /** The connection whose ids these are. */
  @PrimaryColumn({ type: 'varchar', length: 36 }) system!: string;
  @PrimaryColumn({ type: 'varchar', length: 60, name: 'entity_type' }) entityType!: string;
  @PrimaryColumn({ type: 'varchar', length: 200, name: 'canonical_key' }) canonicalKey!: string;
  @Column({ type: 'varchar', length: 200, name: 'external_id' }) externalId!: string;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
