import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { serialiseSqliteTransactions } from './data-source';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SQLite transactions', () => {
  let dir: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnihub-sqlite-'));
    dataSource = await serialiseSqliteTransactions(new DataSource({ type: 'better-sqlite3', database: path.join(dir, 'hub.sqlite') })).initialize();
    await dataSource.query('CREATE TABLE claims (id TEXT PRIMARY KEY)');
  });

  afterEach(async () => {
    await dataSource.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one transaction that commits while another, opened meanwhile, rolls back', async () => {
    // Unserialised, the second would be a savepoint inside the first: the first's commit releases
    // it, and the second's rollback then undoes the whole transaction, the first's claim included.
    const committed = dataSource.transaction(async (manager) => {
      await manager.query(`INSERT INTO claims (id) VALUES ('kept')`);
      await pause(20);
    });
    const rolledBack = dataSource.transaction(async (manager) => {
      await manager.query(`INSERT INTO claims (id) VALUES ('undone')`);
      await pause(40);
      throw new Error('refused');
    });
    await expect(committed).resolves.toBeUndefined();
    await expect(rolledBack).rejects.toThrow('refused');
    expect(await dataSource.query('SELECT id FROM claims ORDER BY id')).toEqual([{ id: 'kept' }]);
  });

  it('runs transactions opened together one after another, each with its own outcome', async () => {
    const order: string[] = [];
    await Promise.all(['a', 'b', 'c'].map((id) => dataSource.transaction(async (manager) => {
      order.push(`begin ${id}`);
      await manager.query('INSERT INTO claims (id) VALUES (?)', [id]);
      await pause(5);
      order.push(`end ${id}`);
    })));
    expect(order).toEqual(['begin a', 'end a', 'begin b', 'end b', 'begin c', 'end c']);
    expect((await dataSource.query('SELECT id FROM claims ORDER BY id')).map((r: { id: string }) => r.id)).toEqual(['a', 'b', 'c']);
  });
});
