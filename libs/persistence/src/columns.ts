import { ColumnOptions } from 'typeorm';

/**
 * Dialect choices live here and nowhere else. PostgreSQL is chosen exactly when DATABASE_URL is
 * set, which is known before any entity module loads.
 */
export const isPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

export const timestampType = (): 'timestamptz' | 'datetime' => (isPostgres() ? 'timestamptz' : 'datetime');

export const TimestampColumn = (options: ColumnOptions = {}): ColumnOptions => ({ type: timestampType(), ...options });

/** JSON stored as text on both dialects: portable, and the hub never queries inside it. */
export const JsonColumn = (options: ColumnOptions = {}): ColumnOptions => ({ type: 'simple-json', ...options });
