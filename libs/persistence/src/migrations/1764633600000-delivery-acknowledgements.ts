import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * What a destination said of a delivery after accepting it (an EDI 997 for a 940): accepted or
 * rejected, and why. A table of its own, so the deliveries' hot path reads nothing more.
 */
export class DeliveryAcknowledgements1764633600000 implements MigrationInterface {
  name = 'DeliveryAcknowledgements1764633600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const pg = queryRunner.connection.options.type === 'postgres';
    await queryRunner.createTable(
      new Table({
        name: 'delivery_acknowledgements',
        columns: [
          { name: 'delivery_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'connection_id', type: 'varchar', length: '36' },
          { name: 'status', type: 'varchar', length: '20' },
          { name: 'detail', type: 'text', isNullable: true },
          { name: 'message_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'received_at', type: pg ? 'timestamptz' : 'datetime' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('delivery_acknowledgements');
  }
}
