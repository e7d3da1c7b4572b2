import { createHash } from 'node:crypto';
import { ConnectorContext, HttpResponse, authorizedClient, limitedRequest, list, parseObject, record, refreshingBearer, text } from '@omnihub/connector-sdk';
import { settingsOf } from './settings';

/** Amazon states each operation's actual rate here, in requests per second. */
const RATE_HEADER = 'x-amzn-ratelimit-limit';

/** A call Amazon (or LWA) answered with an error, with its status and Amazon's own code and message. */
export class AmazonCallError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`Amazon ${operation} answered HTTP ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`);
  }
}

/** `{"errors":[{"code","message","details"}]}` (SP-API) or `{"error","error_description"}` (LWA): code and one-line message. */
function amazonError(body: string): { code?: string; message: string } {
  const parsed = parseObject(body);
  const first = record(list(parsed?.errors)?.[0]);
  if (first) return { code: text(first.code), message: [text(first.message), text(first.details)].filter(Boolean).join(' ').slice(0, 500) };
  if (parsed && text(parsed.error)) return { code: text(parsed.error), message: (text(parsed.error_description) ?? '').slice(0, 500) };
  return { message: body.slice(0, 200) };
}

function failed(operation: string, response: HttpResponse): AmazonCallError {
  const { code, message } = amazonError(response.body);
  return new AmazonCallError(operation, response.status, code, message);
}

/**
 * LWA: the refresh token exchanged for an access token, cached per connection and credential until
 * shortly before it expires (an hour), and exchanged again once when Amazon says it expired (a 403).
 */
function lwaAuthenticator(context: ConnectorContext) {
  const { lwaClientId, lwaClientSecret, refreshToken } = context.secrets;
  const { lwaUrl } = settingsOf(context);
  const credential = createHash('sha256').update(`${lwaClientId}\u0000${refreshToken}\u0000${lwaUrl}`).digest('hex').slice(0, 16);
  return refreshingBearer(
    `amazon-sp:${context.connectionId}:${credential}`,
    async (http) => {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken ?? '', client_id: lwaClientId ?? '', client_secret: lwaClientSecret ?? '' });
      const response = await http.request({ method: 'POST', url: lwaUrl, headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: 'application/json' }, body: form.toString(), timeoutMs: context.timeoutMs });
      const token = parseObject(response.body);
      if (response.status !== 200 || !text(token?.access_token)) throw failed('LWA token exchange', response);
      const expiresIn = Number(token?.expires_in);
      return { accessToken: text(token?.access_token)!, expiresInMs: Number.isFinite(expiresIn) ? expiresIn * 1000 : undefined };
    },
    { header: 'x-amz-access-token', value: (token) => token, refused: (response) => response.status === 403 && /unauthorized|expired/i.test(response.body) },
  );
}

export interface SpApiCall {
  operation: string;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** A Restricted Data Token to send instead of the LWA access token (getOrders with PII). */
  restrictedDataToken?: string;
}

/** The data elements a polled order needs for a warehouse to ship it. */
const ORDER_PII = { method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo', 'shippingAddress'] };

/** A Selling Partner API client for one connection: LWA-authorised, through the operation's token bucket. */
export function spApi(context: ConnectorContext) {
  const { apiBase } = settingsOf(context);
  const http = authorizedClient(context.http, lwaAuthenticator(context));
  return {
    /** The answer's JSON (empty for a 204); an error answer (after the bucket rode out its 429s) throws AmazonCallError. */
    async call(call: SpApiCall): Promise<Record<string, unknown>> {
      const query = new URLSearchParams(Object.entries(call.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
      const url = `${apiBase}${call.path}${query.size > 0 ? `?${query.toString()}` : ''}`;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      // A Restricted Data Token is the access token of its call: sent as it is, not through LWA.
      if (call.restrictedDataToken) headers['x-amz-access-token'] = call.restrictedDataToken;
      const client = call.restrictedDataToken ? context.http : http;
      const response = await limitedRequest({ http: client, rateLimits: context.rateLimits }, call.operation, { method: call.method, url, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body), timeoutMs: context.timeoutMs }, { rateHeader: RATE_HEADER });
      if (response.status < 200 || response.status >= 300) throw failed(call.operation, response);
      return parseObject(response.body) ?? {};
    },

    /** A Restricted Data Token for getOrders with the buyer and full ship-to address (valid an hour; one per poll). */
    async restrictedDataToken(): Promise<string> {
      const answer = await this.call({ operation: 'createRestrictedDataToken', method: 'POST', path: '/tokens/2021-03-01/restrictedDataToken', body: { restrictedResources: [ORDER_PII] } });
      const token = text(answer.restrictedDataToken);
      if (!token) throw new AmazonCallError('createRestrictedDataToken', 200, undefined, 'the answer holds no restrictedDataToken');
      return token;
    },
  };
}
