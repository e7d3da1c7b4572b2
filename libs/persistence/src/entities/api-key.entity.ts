import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

export const API_ROLES = ['admin', 'integrator', 'operator', 'viewer'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** Keys are stored as SHA-256 hashes; the plaintext is shown once, when created. */
@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'varchar', length: 64, name: 'key_hash', unique: true }) keyHash!: string;
  @Column({ type: 'varchar', length: 20 }) role!: ApiRole;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
}
