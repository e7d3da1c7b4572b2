import { createHash } from 'node:crypto';

/**
 * An error message with what varies between occurrences of the same failure masked: quoted
 * values, ids (UUIDs, anything with a digit in it: SKUs, order numbers, amounts, HTTP bodies'
 * counters), e-mail addresses and timestamps. "SKU not found: MUG-12" and "SKU not found: CUP-7"
 * read the same, so 500 of them are one exception to work through, not 500.
 */
export function errorPattern(error: string): string {
  return error
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, '<email>')
    // A quoted word is a value (a JSON key, followed by a colon, is not); a quoted sentence keeps its words.
    .replace(/'[^'\n]{0,200}'|`[^`\n]{0,200}`|"[^"\s:]{1,80}"(?!\s*:)/g, '<value>')
    .replace(/[^\s"'`:,;()[\]{}<>=]*\d[^\s"'`:,;()[\]{}<>=]*/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Groups dead letters of the same failure: the reason code and the error's pattern, digested. */
export function errorFingerprint(reasonCode: string, error: string): string {
  return createHash('sha256').update(`${reasonCode}\n${errorPattern(error)}`).digest('hex').slice(0, 16);
}
