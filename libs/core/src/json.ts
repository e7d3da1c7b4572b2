import { isInteger, isSafeNumber, parse } from 'lossless-json';

/**
 * A number JSON.parse could round has at least 16 digits in a row. Without such a run the fast
 * native parser is exactly as lossless as the slow one (a run inside a string only costs speed).
 */
export const MAY_LOSE_DIGITS = /\d{16}/;

/**
 * Parses vendor JSON without losing digits: integers beyond 2^53 (Shopify ids) become strings,
 * every other number stays a number. Throws SyntaxError on malformed input.
 */
export function parseVendorJson(text: string): unknown {
  if (!MAY_LOSE_DIGITS.test(text)) return JSON.parse(text) as unknown;
  return parse(text, null, (value: string) =>
    isInteger(value) && !isSafeNumber(value) ? value : Number(value),
  );
}

/**
 * Nesting depth of a JSON text, counted without parsing (strings are skipped), so a hostile
 * deeply nested body is refused before any parser recurses into it.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}
