import { parseVendorJson } from '@omnihub/core';

/** Readers for vendor JSON whose shape is not trusted: each answers undefined instead of throwing. */
export type JsonRecord = Record<string, unknown>;

export function record(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
}

export function list(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** A non-blank string, trimmed. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** An id as a digit-exact string: big integers arrive as strings from the lossless parser, safe ones as numbers. */
export function idText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return text(value);
}

/** The JSON object a text holds (parsed losslessly), or undefined for anything else (malformed, an array, a scalar). */
export function parseObject(body: string | Buffer): JsonRecord | undefined {
  try {
    return record(parseVendorJson(typeof body === 'string' ? body : body.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** An RFC 3339 time with any offset as UTC with milliseconds (`…T19:02:45.000Z`), comparable as text; undefined otherwise. */
export function utcTimestamp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * `value` as a connection's config renames it (`{"UPSN": "UPS"}`: a warehouse's carrier code →
 * a vendor's), matched case-insensitively; unlisted values pass as they are.
 */
export function renamed(value: string | undefined, names: unknown): string | undefined {
  if (!value) return undefined;
  const wanted = value.toLowerCase();
  const match = Object.entries(record(names) ?? {}).find(([name, to]) => name.toLowerCase() === wanted && text(to));
  return match ? text(match[1]) : value;
}
