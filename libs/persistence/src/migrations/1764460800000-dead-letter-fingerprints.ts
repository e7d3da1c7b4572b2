import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';
import { errorFingerprint } from '@omnihub/core';

/**
 * Dead letters grouped by their failure (a fingerprint of the reason code and the error with its
 * varying parts masked), so support works through one row per failure, not one per message.
 * Existing dead letters get theirs here.
 */
export class DeadLetterFingerprints1764460800000 implements MigrationInterface {
  name = 'DeadLetterFingerprints1764460800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('dead_letters', new TableColumn({ name: 'fingerprint', type: 'varchar', length: '16', default: "''" }));
    const pg = queryRunner.connection.options.type === 'postgres';
    const rows = (await queryRunner.query(`SELECT id, reason_code, error FROM dead_letters`)) as Array<{ id: string; reason_code: string; error: string }>;
    for (const row of rows) {
      await queryRunner.query(`UPDATE dead_letters SET fingerprint = ${pg ? '$1' : '?'} WHERE id = ${pg ? '$2' : '?'}`, [errorFingerprint(row.reason_code, row.error), row.id]);
    }
    await queryRunner.createIndex('dead_letters', new TableIndex({ name: 'idx_dead_letters_fingerprint', columnNames: ['status', 'fingerprint'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('dead_letters', 'idx_dead_letters_fingerprint');
    await queryRunner.dropColumn('dead_letters', 'fingerprint');
  }
}
