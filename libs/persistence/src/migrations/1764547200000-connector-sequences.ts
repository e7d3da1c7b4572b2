import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** Persisted per-connection sequences (EDI interchange, group and set control numbers). */
export class ConnectorSequences1764547200000 implements MigrationInterface {
  name = 'ConnectorSequences1764547200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'connector_sequences',
        columns: [
          { name: 'connection_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '100', isPrimary: true },
          { name: 'value', type: 'bigint' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('connector_sequences');
  }
}
