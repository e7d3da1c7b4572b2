import { ReasonCode } from '@omnihub/core';
import {
  ConnectorContext,
  HttpClient,
  HttpResponse,
  VendorFailure,
  failureOfResponse,
  failureOfTransport,
  list,
  oauth1Client,
  parseObject,
  record,
  rejection,
  text,
} from '@omnihub/connector-sdk';
import { RECORD_PATH, credentialsOf, settingsOf } from './settings';

export type Answer = { ok: true; response: HttpResponse } | { ok: false; failure: VendorFailure };

export const isSuccess = (response: HttpResponse): boolean => response.status >= 200 && response.status < 300;

const MAX_BODY_IN_MESSAGE = 500;

/** One entry of an RFC 7807 answer's `o:errorDetails`. */
export interface NetSuiteErrorDetail {
  detail?: string;
  code?: string;
  /** The field NetSuite refused, e.g. `item.items[0].item`. */
  path?: string;
}

/** The `o:errorDetails` of NetSuite's RFC 7807 error body, or undefined when the body is not one. */
export function errorDetailsOf(body: string): NetSuiteErrorDetail[] | undefined {
  const problem = parseObject(body);
  const details = list(problem?.['o:errorDetails'])?.map(record).filter((d) => d !== undefined);
  if (!details || details.length === 0) return text(problem?.title) ? [{ detail: text(problem?.title) }] : undefined;
  return details.map((d) => ({ detail: text(d.detail), code: text(d['o:errorCode']), path: text(d['o:errorPath']) }));
}

/** One error detail as NetSuite words it, with its code: `Invalid Field Value 9999 … (INVALID_CONTENT)`. */
const detailText = (d: NetSuiteErrorDetail): string => `${d.detail ?? 'no detail given'}${d.code ? ` (${d.code})` : ''}`;

/**
 * NetSuite's answer in words a support engineer can act on: `NetSuite refused item.items[0].item:
 * Invalid Field Value 9999 … (INVALID_CONTENT)`, one clause per error detail, then the call.
 */
export function netsuiteErrorText(response: HttpResponse, call: string): string {
  const details = errorDetailsOf(response.body);
  const said = details?.map((d) => `${d.path ?? 'the request'}: ${detailText(d)}`).join('; ');
  if (said) return `NetSuite refused ${said} [HTTP ${response.status} on ${call}]`;
  const body = response.body.length > MAX_BODY_IN_MESSAGE ? `${response.body.slice(0, MAX_BODY_IN_MESSAGE)}…` : response.body;
  return `NetSuite ${call} answered HTTP ${response.status}${body ? `: ${body}` : ''}`;
}

/**
 * A non-2xx answer classified as DESIGN.md §4 says: 429 (the account's concurrency limit) and 5xx
 * retried with Retry-After honoured, 401/403 AUTH_FAILED, any other 4xx (a 7807 refusal of a
 * field or record) permanent. The message names the refused fields; `details` carries each
 * o:errorPath with its detail and o:errorCode into the dead letter.
 */
export function failureOf(response: HttpResponse, call: string): VendorFailure {
  const failure = failureOfResponse(response, netsuiteErrorText(response, call));
  const details = errorDetailsOf(response.body)?.map((d) => ({ path: d.path ?? '', message: detailText(d) }));
  return details ? { ...failure, details } : failure;
}

/** The record's internal id from a `Location` header (`…/record/v1/salesOrder/1234`), if it names one. */
export function internalIdOf(location: string | undefined): string | undefined {
  const last = location?.split('?')[0].replace(/\/+$/, '').split('/').pop();
  return last && /^\d+$/.test(last) ? last : undefined;
}

/** A record path: `salesOrder/1234` or, by external id, `salesOrder/eid:shopify-1042` (encoded as a path segment). */
export const byInternalId = (recordType: string, id: string): string => `${RECORD_PATH}/${recordType}/${encodeURIComponent(id)}`;
export const byExternalId = (recordType: string, externalId: string): string => `${RECORD_PATH}/${recordType}/eid:${encodeURIComponent(externalId)}`;

/** A body without its null fields: canonical null means "not known", which must not clear a field NetSuite has. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).flatMap(([name, v]) => (v === null ? [] : [[name, withoutNulls(v)]])));
}

/** SuiteTalk REST for one connection: token-based authentication (OAuth 1.0a, HMAC-SHA256, realm = account id), its base URL and timeout. */
export class NetSuiteApi {
  private readonly http: HttpClient | undefined;
  private readonly missing: string[];
  private readonly apiBase: string;

  constructor(private readonly context: ConnectorContext) {
    const settings = settingsOf(context);
    const credentials = credentialsOf(context);
    this.apiBase = settings.apiBase;
    this.missing = credentials.ok ? [] : credentials.missing;
    this.http = credentials.ok ? oauth1Client(context.http, credentials.credentials, { realm: settings.accountId }) : undefined;
  }

  /** Every HTTP answer comes back as it is; only missing secrets and transport errors are failures here. */
  async send(method: 'GET' | 'PUT' | 'PATCH' | 'POST', path: string, body?: unknown): Promise<Answer> {
    if (!this.http) return { ok: false, failure: rejection(`the connection lacks the ${this.missing.join(', ')} secret(s) NetSuite token-based authentication needs`, ReasonCode.AUTH_FAILED) };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.http.request({ method, url: `${this.apiBase}${path}`, headers, body: body === undefined ? undefined : JSON.stringify(withoutNulls(body)), timeoutMs: this.context.timeoutMs });
      return { ok: true, response };
    } catch (error) {
      return { ok: false, failure: failureOfTransport(error, `NetSuite ${method} ${path}`) };
    }
  }
}
