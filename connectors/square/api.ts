import { ReasonCode } from '@omnihub/core';
import {
  ConnectorContext,
  HttpClient,
  HttpResponse,
  VendorFailure,
  authorizedClient,
  bearerToken,
  failureOfResponse,
  failureOfTransport,
  list,
  parseObject,
  record,
  text,
} from '@omnihub/connector-sdk';
import { SquareSettings, settingsOf } from './settings';

export type Answer = { ok: true; response: HttpResponse } | { ok: false; failure: VendorFailure };

export const isSuccess = (response: HttpResponse): boolean => response.status >= 200 && response.status < 300;

const MAX_BODY_IN_MESSAGE = 500;

/** Square's `{"errors":[{category, code, detail, field}]}` as one line; the raw body (cut short) when it is not that. */
export function squareErrorText(body: string): string {
  const errors = list(parseObject(body)?.errors)?.map(record).filter((e) => e !== undefined);
  if (errors && errors.length > 0) {
    return errors
      .map((e) => {
        const field = text(e.field);
        const detail = text(e.detail);
        return `${text(e.code) ?? text(e.category) ?? 'ERROR'}${field ? ` (${field})` : ''}${detail ? `: ${detail}` : ''}`;
      })
      .join('; ');
  }
  return body.length > MAX_BODY_IN_MESSAGE ? `${body.slice(0, MAX_BODY_IN_MESSAGE)}…` : body;
}

/**
 * A non-2xx answer, classified as DESIGN.md §4 says (429/5xx/408 retried with Retry-After, 401/403
 * AUTH_FAILED, other 4xx permanent), with Square's own error codes and details in the message.
 */
export function failureOf(response: HttpResponse, call: string): VendorFailure {
  const detail = squareErrorText(response.body);
  return failureOfResponse(response, `Square ${call} answered HTTP ${response.status}${detail ? `: ${detail}` : ''}`);
}

/** A 2xx whose body is not what Square sends (a proxy's page, a truncated answer): worth another try. */
export function unusable(response: HttpResponse, call: string): VendorFailure {
  return { retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, message: `Square ${call} answered HTTP ${response.status} with a body that is not the expected JSON object`, httpStatus: response.status };
}

/** Square's REST API for one connection: Bearer token, pinned Square-Version, the connection's base URL and timeout. */
export class SquareApi {
  private readonly http: HttpClient | undefined;
  private readonly settings: SquareSettings;

  constructor(private readonly context: ConnectorContext) {
    const token = context.secrets.accessToken;
    this.http = token ? authorizedClient(context.http, bearerToken(token)) : undefined;
    this.settings = settingsOf(context);
  }

  /** Every HTTP answer comes back as it is; only a missing token and transport errors are failures here. */
  async send(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
    if (!this.http) return { ok: false, failure: { retry: false, reason: ReasonCode.AUTH_FAILED, message: 'the connection has no accessToken secret to call Square with' } };
    const headers: Record<string, string> = { accept: 'application/json', 'Square-Version': this.settings.squareVersion };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.http.request({ method, url: `${this.settings.apiBase}${path}`, headers, body, timeoutMs: this.context.timeoutMs });
      return { ok: true, response };
    } catch (error) {
      return { ok: false, failure: failureOfTransport(error, `Square ${method} ${path}`) };
    }
  }
}
