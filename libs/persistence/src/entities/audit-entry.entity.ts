import { JsonObject } from '@omnihub/core';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimestampColumn } from '../columns';

/** Who changed what through the admin API. Never holds secret values. */
@Entity('audit_entries')
export class AuditEntryEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 36, name: 'api_key_id', nullable: true }) apiKeyId!: string | null;
  @Column({ type: 'varchar', length: 60 }) action!: string;
  @Column({ type: 'varchar', length: 40, name: 'target_type' }) targetType!: string;
  @Column({ type: 'varchar', length: 200, name: 'target_id' }) targetId!: string;
  @Column(JsonColumn()) details!: JsonObject;
  @Index() @Column(TimestampColumn()) at!: Date;
}
