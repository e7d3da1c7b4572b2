import { ErrorCode } from './reason-codes';

/** One offending place in the input: a JSON pointer and what is wrong there. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/**
 * The one domain error of the hub. Apps map it at their edges: the HTTP filter turns it into
 * `{ error: { code, message, details } }` with `httpStatus`; the worker into a dead letter.
 * Messages must never contain secrets.
 */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly httpStatus = 400,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'HubError';
  }

  static notFound(what: string, id: string): HubError {
    return new HubError('NOT_FOUND', `${what} ${id} does not exist`, 404);
  }

  static validation(message: string, details: ErrorDetail[] = []): HubError {
    return new HubError('VALIDATION_FAILED', message, 400, details);
  }

  static conflict(message: string): HubError {
    return new HubError('CONFLICT', message, 409);
  }
}
