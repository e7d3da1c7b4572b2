import { randomInt } from 'node:crypto';
import { DataSource } from 'typeorm';
import { queryPrepared, textArrayLiteral } from './sql';

// pg ships no type declarations; these are the two parts the test uses. prepareValue is pg's own
// array encoder: textArrayLiteral must produce what it produces, only faster.
interface PgClient {
  connect(): Promise<void>;
  query(text: string, values: unknown[]): Promise<{ rows: Array<{ t: string }> }>;
  end(): Promise<void>;
}
const { Client } = require('pg') as { Client: new (options: { connectionString: string }) => PgClient };
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => string };

const ALPHABET = ['a', 'é', '"', '\\', '{', '}', ',', ' ', '\n', '\t', '\u0000', '\u001f', '\u2028', '\u007f', '😀', '\ud800', '\udfff', 'NULL', '\\"', '{"k":"v\\n"}'];

function randomText(): string {
  let text = '';
  for (let n = randomInt(0, 12); n > 0; n--) text += ALPHABET[randomInt(0, ALPHABET.length)];
  return text;
}

describe('textArrayLiteral', () => {
  it('writes the same literal as pg for texts of every kind', () => {
    for (let round = 0; round < 2000; round++) {
      const texts = Array.from({ length: randomInt(0, 5) }, randomText);
      expect(textArrayLiteral(texts)).toBe(prepareValue(texts));
    }
  });

  it('takes JSON texts, the hot case, on the native path and still matches pg', () => {
    const events = [{ note: 'say "hi" \\ \u0000 \n \ud800', nested: { q: '"' } }, { emoji: '😀 🛒' }, { empty: '' }].map((e) => JSON.stringify(e));
    const native = jest.spyOn(JSON, 'stringify');
    try {
      expect(textArrayLiteral(events)).toBe(prepareValue(events));
      expect(native).toHaveBeenCalledTimes(events.length); // none took the slow path
    } finally {
      native.mockRestore();
    }
    expect(textArrayLiteral([])).toBe('{}');
  });

  const url = process.env.DATABASE_URL;
  if (url?.startsWith('postgres')) {
    it('round-trips through PostgreSQL unchanged', async () => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        // Text cannot hold NUL or lone surrogates; everything else must come back as it went.
        const storable = (t: string) => !/[\u0000\ud800-\udfff]/u.test(t);
        const texts = Array.from({ length: 300 }, randomText).filter(storable).concat([JSON.stringify({ a: 'x"\\\u0000\ud800' })]);
        const { rows } = await client.query('SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n', [textArrayLiteral(texts)]);
        expect(rows.map((r) => r.t)).toEqual(texts);
      } finally {
        await client.end();
      }
    });
  }
});

describe('queryPrepared', () => {
  const url = process.env.DATABASE_URL;
  if (!url?.startsWith('postgres')) return;
  let dataSource: DataSource;

  beforeEach(async () => {
    dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
  });

  it('runs on a pool of its own that plans once, by index lookups, while the DataSource plans as usual', async () => {
    const settings = `SELECT current_setting('plan_cache_mode') AS plans, current_setting('enable_seqscan') AS seqscan, current_setting('enable_hashjoin') AS hashjoin`;
    expect(await queryPrepared(dataSource, 'test_hot_settings', settings, [])).toEqual([{ plans: 'force_generic_plan', seqscan: 'off', hashjoin: 'off' }]);
    expect(await dataSource.query(settings)).toEqual([{ plans: 'auto', seqscan: 'on', hashjoin: 'on' }]);
  });

  it('is ended with its DataSource, and refuses to run after it', async () => {
    const backends = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = 'SELECT 1 AS test_hot_marker'`;
    await queryPrepared(dataSource, 'test_hot_marker', 'SELECT 1 AS test_hot_marker', []);
    await dataSource.destroy();
    await expect(queryPrepared(dataSource, 'test_hot_marker', 'SELECT 1 AS test_hot_marker', [])).rejects.toThrow(/not initialised/);
    const observer = await new DataSource({ type: 'postgres', url }).initialize();
    try {
      // The hot pool's connection is gone: no backend still shows the statement it last ran (a
      // backend leaves the view a moment after its client hung up).
      let left = await observer.query(backends);
      for (let tries = 0; left[0].n > 0 && tries < 20; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        left = await observer.query(backends);
      }
      expect(left).toEqual([{ n: 0 }]);
    } finally {
      await observer.destroy();
    }
  });
});
