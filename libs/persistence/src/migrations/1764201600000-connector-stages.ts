import { MigrationInterface, QueryRunner, Table, TableColumn, TableColumnOptions, TableIndex } from 'typeorm';

/**
 * The connector SDK's stages: the entity a message is about (key and version, for ordering), the
 * body a resolve stage fetched (kept so a replay does not fetch again), resolve retries, one
 * delivery per canonical event of a message and route, and the connectors' stores
 * (cross-references and per-connection state). QueryRunner schema API: runs on both dialects.
 */
export class ConnectorStages1764201600000 implements MigrationInterface {
  name = 'ConnectorStages1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const pg = queryRunner.connection.options.type === 'postgres';
    const ts = (name: string, nullable = false): TableColumnOptions => ({ name, type: pg ? 'timestamptz' : 'datetime', isNullable: nullable });
    await queryRunner.addColumns('messages', [
      new TableColumn({ name: 'entity_key', type: 'varchar', length: '200', isNullable: true }),
      new TableColumn({ name: 'entity_version', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'resolved_body', type: 'text', isNullable: true }),
      new TableColumn({ name: 'transform_attempts', type: 'integer', default: 0 }),
      new TableColumn(ts('next_attempt_at', true)),
    ]);

    await queryRunner.addColumn('deliveries', new TableColumn({ name: 'event_index', type: 'integer', default: 0 }));
    await queryRunner.dropIndex('deliveries', 'uq_deliveries_message_route');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'uq_deliveries_message_route_event', columnNames: ['message_id', 'route_id', 'event_index'], isUnique: true }));

    await queryRunner.createTable(
      new Table({
        name: 'cross_references',
        columns: [
          { name: 'system', type: 'varchar', length: '36', isPrimary: true },
          { name: 'entity_type', type: 'varchar', length: '60', isPrimary: true },
          { name: 'canonical_key', type: 'varchar', length: '200', isPrimary: true },
          { name: 'external_id', type: 'varchar', length: '200' },
          ts('updated_at'),
        ],
        indices: [new TableIndex({ name: 'idx_xrefs_external', columnNames: ['system', 'entity_type', 'external_id'] })],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'connector_state',
        columns: [
          { name: 'connection_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'key', type: 'varchar', length: '100', isPrimary: true },
          { name: 'value', type: 'text' },
          ts('updated_at'),
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('connector_state', true);
    await queryRunner.dropTable('cross_references', true);
    await queryRunner.dropIndex('deliveries', 'uq_deliveries_message_route_event');
    await queryRunner.createIndex('deliveries', new TableIndex({ name: 'uq_deliveries_message_route', columnNames: ['message_id', 'route_id'], isUnique: true }));
    await queryRunner.dropColumn('deliveries', 'event_index');
    for (const column of ['next_attempt_at', 'transform_attempts', 'resolved_body', 'entity_version', 'entity_key']) await queryRunner.dropColumn('messages', column);
  }
}
