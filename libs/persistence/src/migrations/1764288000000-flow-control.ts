import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Flow control: each delivery carries the entity it updates (key and version), so a stale one is
 * superseded instead of overwriting newer data; the (destination, entity) index finds what was
 * delivered for a key, and replaces the destination-only index it starts with. A circuit probe is
 * recorded as such (it spends no retry budget). The consecutive-failure breaker setting gives way
 * to the failure-rate settings (0 turned it off, and still does, as `circuitMinimumCalls: 0`).
 */
export class FlowControl1764288000000 implements MigrationInterface {
  name = 'FlowControl1764288000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('deliveries', [
      new TableColumn({ name: 'entity_key', type: 'varchar', length: '300', isNullable: true }),
      new TableColumn({ name: 'entity_version', type: 'varchar', length: '80', isNullable: true }),
    ]);
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_destination');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_destination_entity', columnNames: ['destination_connection_id', 'entity_key'] }));
    await queryRunner.addColumn('delivery_attempts', new TableColumn({ name: 'probe', type: 'boolean', default: false }));
    await rewriteDeliverySettings(queryRunner, (settings) => {
      const { circuitThreshold, ...rest } = settings;
      return circuitThreshold === 0 ? { ...rest, circuitMinimumCalls: 0 } : rest;
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await rewriteDeliverySettings(queryRunner, (settings) => {
      const { circuitMinimumCalls, circuitFailureRatePercent: _rate, circuitWindowMs: _window, circuitMaxHoldMs: _hold, ...rest } = settings;
      return circuitMinimumCalls === 0 ? { ...rest, circuitThreshold: 0 } : rest;
    });
    await queryRunner.dropColumn('delivery_attempts', 'probe');
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_destination_entity');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'idx_deliveries_destination', columnNames: ['destination_connection_id'] }));
    await queryRunner.dropColumn('deliveries', 'entity_version');
    await queryRunner.dropColumn('deliveries', 'entity_key');
  }
}

async function rewriteDeliverySettings(queryRunner: QueryRunner, rewrite: (settings: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const rows = (await queryRunner.query(`SELECT id, delivery FROM connections`)) as Array<{ id: string; delivery: string | Record<string, unknown> }>;
  for (const row of rows) {
    const settings = typeof row.delivery === 'string' ? (JSON.parse(row.delivery) as Record<string, unknown>) : row.delivery;
    const pg = queryRunner.connection.options.type === 'postgres';
    await queryRunner.query(`UPDATE connections SET delivery = ${pg ? '$1' : '?'} WHERE id = ${pg ? '$2' : '?'}`, [JSON.stringify(rewrite(settings)), row.id]);
  }
}
