import { ErrorDetail } from '@omnihub/core';

/** The one error shape of every endpoint (DESIGN.md §5). */
export function errorBody(code: string, message: string, details: ErrorDetail[] = []) {
  return { error: { code, message, details } };
}
