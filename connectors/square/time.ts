const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time as UTC with a fixed nine-digit fraction (Square sends anything from none to
 * nanoseconds), so that entity versions compare correctly as strings: "…:06Z" would sort after
 * "…:06.5Z". Undefined for anything that is not RFC 3339.
 */
export function utcVersion(value: unknown): string | undefined {
  const match = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (!match) return undefined;
  const [, date, time, fraction = '', offset] = match;
  const ms = Date.parse(`${date}T${time}${offset.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction.slice(0, 9).padEnd(9, '0')}Z`;
}
