import { MigrationInterface, QueryRunner, Table, TableColumnOptions, TableIndex } from 'typeorm';

/**
 * Written with the QueryRunner schema API rather than generated SQL, so the one migration runs on
 * PostgreSQL and SQLite alike (STYLE.md pitfall 16).
 */
export class InitialSchema1764057600000 implements MigrationInterface {
  name = 'InitialSchema1764057600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const pg = queryRunner.connection.options.type === 'postgres';
    const id = (name = 'id'): TableColumnOptions => ({ name, type: 'varchar', length: '36', isPrimary: name === 'id' });
    const ref = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: '36', isNullable: nullable });
    const str = (name: string, length: number, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: String(length), isNullable: nullable });
    const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
    const int = (name: string, dflt?: number): TableColumnOptions => ({ name, type: 'integer', default: dflt });
    const intNullable = (name: string): TableColumnOptions => ({ name, type: 'integer', isNullable: true });
    const ts = (name: string, nullable = false): TableColumnOptions => ({ name, type: pg ? 'timestamptz' : 'datetime', isNullable: nullable });

    const tables: Array<{ name: string; columns: TableColumnOptions[]; indices?: TableIndex[] }> = [
      {
        name: 'connections',
        columns: [id(), str('connector', 100), str('name', 200), text('config'), text('secrets_ciphertext'), text('delivery'), ts('created_at'), ts('updated_at')],
      },
      {
        name: 'routes',
        columns: [id(), ref('source_connection_id'), text('event_types'), text('filter', true), ref('destination_connection_id'),
          { name: 'enabled', type: 'boolean', default: true }, ts('created_at'), ts('updated_at')],
        indices: [new TableIndex({ name: 'idx_routes_source', columnNames: ['source_connection_id'] })],
      },
      {
        name: 'mapping_versions',
        columns: [id(), str('mapping_id', 200), int('version'), text('expression'), str('target_event_type', 100, true), str('origin', 20), str('content_hash', 64), ts('created_at')],
        indices: [new TableIndex({ name: 'uq_mapping_versions', columnNames: ['mapping_id', 'version'], isUnique: true })],
      },
      {
        name: 'messages',
        columns: [id(), ref('connection_id'), str('vendor_delivery_id', 200, true), str('topic', 200), str('event_type', 100, true),
          text('raw_body'), text('edited_body', true), text('headers'), text('canonical', true), str('status', 20), str('reason_code', 40, true),
          text('error', true), ts('received_at'), ts('updated_at')],
        indices: [
          new TableIndex({ name: 'uq_messages_vendor_delivery', columnNames: ['connection_id', 'vendor_delivery_id'], isUnique: true }),
          new TableIndex({ name: 'idx_messages_status', columnNames: ['status', 'updated_at'] }),
          new TableIndex({ name: 'idx_messages_received', columnNames: ['received_at'] }),
        ],
      },
      {
        name: 'deliveries',
        columns: [id(), ref('message_id'), ref('route_id'), ref('destination_connection_id'), str('status', 20), int('attempts', 0),
          int('round_start_attempts', 0), ts('next_attempt_at', true), str('reason_code', 40, true), text('last_error', true),
          text('data_override', true), ts('delivered_at', true), ts('created_at'), ts('updated_at')],
        indices: [
          new TableIndex({ name: 'uq_deliveries_message_route', columnNames: ['message_id', 'route_id'], isUnique: true }),
          new TableIndex({ name: 'idx_deliveries_status', columnNames: ['status', 'updated_at'] }),
          new TableIndex({ name: 'idx_deliveries_destination', columnNames: ['destination_connection_id'] }),
        ],
      },
      {
        name: 'delivery_attempts',
        columns: [id(), ref('delivery_id'), int('attempt_number'), ts('started_at'), int('latency_ms'), intNullable('http_status'),
          str('outcome', 20), str('reason_code', 40, true), text('error', true)],
        indices: [new TableIndex({ name: 'idx_attempts_delivery', columnNames: ['delivery_id', 'attempt_number'] })],
      },
      {
        name: 'dead_letters',
        columns: [id(), ref('subject_id'), str('stage', 20), ref('message_id'), ref('delivery_id', true), ref('connection_id'),
          str('reason_code', 40), text('error'), text('details'), str('status', 20), int('replay_count', 0), text('discard_reason', true),
          ts('created_at'), ts('updated_at')],
        indices: [
          new TableIndex({ name: 'uq_dead_letters_subject', columnNames: ['subject_id'], isUnique: true }),
          new TableIndex({ name: 'idx_dead_letters_status', columnNames: ['status', 'created_at'] }),
          new TableIndex({ name: 'idx_dead_letters_message', columnNames: ['message_id'] }),
          new TableIndex({ name: 'idx_dead_letters_connection', columnNames: ['connection_id'] }),
        ],
      },
      {
        name: 'api_keys',
        columns: [id(), str('name', 200), str('key_hash', 64), str('role', 20), ts('created_at')],
        indices: [new TableIndex({ name: 'uq_api_keys_hash', columnNames: ['key_hash'], isUnique: true })],
      },
      {
        name: 'audit_entries',
        columns: [id(), ref('api_key_id', true), str('action', 60), str('target_type', 40), str('target_id', 200), text('details'), ts('at')],
        indices: [new TableIndex({ name: 'idx_audit_at', columnNames: ['at'] })],
      },
    ];

    for (const table of tables) {
      await queryRunner.createTable(new Table({ name: table.name, columns: table.columns, indices: table.indices }), true);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of ['audit_entries', 'api_keys', 'dead_letters', 'delivery_attempts', 'deliveries', 'messages', 'mapping_versions', 'routes', 'connections']) {
      await queryRunner.dropTable(name, true);
    }
  }
}
