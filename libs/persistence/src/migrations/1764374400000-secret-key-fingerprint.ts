import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Hub-wide settings the database must know, starting with the fingerprint of the key that seals
 * connection secrets (never the key): a process started with another key refuses to start
 * instead of running unable to decrypt anything. QueryRunner schema API: runs on both dialects.
 */
export class SecretKeyFingerprint1764374400000 implements MigrationInterface {
  name = 'SecretKeyFingerprint1764374400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const pg = queryRunner.connection.options.type === 'postgres';
    await queryRunner.createTable(
      new Table({
        name: 'hub_settings',
        columns: [
          { name: 'key', type: 'varchar', length: '100', isPrimary: true },
          { name: 'value', type: 'text' },
          { name: 'updated_at', type: pg ? 'timestamptz' : 'datetime' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('hub_settings', true);
  }
}
