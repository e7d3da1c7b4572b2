import { createHmac, randomBytes } from 'node:crypto';
import { HttpClient, HttpRequest, HttpResponse } from './contracts';

/**
 * OAuth 1.0a request signing (RFC 5849), for vendors that still take it: NetSuite token-based
 * authentication (HMAC-SHA256, realm = account id), Magento integrations, older marketplace APIs.
 */

export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  /** The access token (NetSuite calls it the token id). */
  token: string;
  tokenSecret: string;
}

export type OAuth1SignatureMethod = 'HMAC-SHA256' | 'HMAC-SHA1';

export interface OAuth1Options {
  /** Sent in the header but never signed (RFC 5849 §3.4.1.3.1); NetSuite wants the account id. */
  realm?: string;
  /** HMAC-SHA256 unless the vendor only knows SHA-1 (NetSuite refuses SHA-1 since 2023.1). */
  signatureMethod?: OAuth1SignatureMethod;
  /** Injectable for known-answer tests; a fresh random nonce per request otherwise. */
  nonce?: () => string;
  /** Seconds since the epoch, as text; injectable for known-answer tests. */
  timestamp?: () => string;
}

/** RFC 3986 percent-encoding as RFC 5849 §3.6 requires: everything but ALPHA, DIGIT, `-._~`, from UTF-8. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The base string URI (§3.4.1.2): scheme and host lower-cased, a default port dropped, no query or fragment. */
function baseStringUri(url: URL): string {
  // URL already lower-cases scheme and host and blanks a default port.
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * The signature base string (RFC 5849 §3.4.1): method, base URI and the normalised parameters,
 * which are the URL's query parameters, `extraParameters` (the oauth_* protocol parameters, and a
 * form-encoded body's parameters when there is one), each name and value percent-encoded, sorted
 * by name and then value. `realm` and `oauth_signature` are never among them.
 */
export function oauth1BaseString(method: string, url: string, extraParameters: Array<[string, string]>): string {
  const parsed = new URL(url);
  const parameters = [...parsed.searchParams.entries(), ...extraParameters]
    .filter(([name]) => name !== 'realm' && name !== 'oauth_signature')
    .map(([name, value]) => [percentEncode(name), percentEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  return [method.toUpperCase(), percentEncode(baseStringUri(parsed)), percentEncode(parameters)].join('&');
}

/** HMAC over the base string keyed with `encode(consumerSecret)&encode(tokenSecret)` (§3.4.2), base64. */
export function oauth1Signature(baseString: string, consumerSecret: string, tokenSecret: string, signatureMethod: OAuth1SignatureMethod = 'HMAC-SHA256'): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac(signatureMethod === 'HMAC-SHA1' ? 'sha1' : 'sha256', key).update(baseString, 'utf8').digest('base64');
}

const defaultNonce = (): string => randomBytes(16).toString('hex');
const defaultTimestamp = (): string => String(Math.floor(Date.now() / 1000));

/** A form-encoded body's parameters, which are signed with the rest (§3.4.1.3.1); other bodies are not. */
function formParameters(request: Pick<HttpRequest, 'headers' | 'body'>): Array<[string, string]> {
  const contentType = Object.entries(request.headers ?? {}).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType) || request.body === undefined) return [];
  return [...new URLSearchParams(request.body.toString()).entries()];
}

/** The `Authorization` header value for one request: `OAuth realm="…", oauth_consumer_key="…", …, oauth_signature="…"`. */
export function oauth1Authorization(request: Pick<HttpRequest, 'method' | 'url' | 'headers' | 'body'>, credentials: OAuth1Credentials, options: OAuth1Options = {}): string {
  const signatureMethod = options.signatureMethod ?? 'HMAC-SHA256';
  const protocol: Array<[string, string]> = [
    ['oauth_consumer_key', credentials.consumerKey],
    ['oauth_token', credentials.token],
    ['oauth_signature_method', signatureMethod],
    ['oauth_timestamp', (options.timestamp ?? defaultTimestamp)()],
    ['oauth_nonce', (options.nonce ?? defaultNonce)()],
    ['oauth_version', '1.0'],
  ];
  const baseString = oauth1BaseString(request.method, request.url, [...protocol, ...formParameters(request)]);
  const signature = oauth1Signature(baseString, credentials.consumerSecret, credentials.tokenSecret, signatureMethod);
  const fields = [...(options.realm !== undefined ? [['realm', options.realm]] : []), ...protocol, ['oauth_signature', signature]];
  return `OAuth ${fields.map(([name, value]) => `${name}="${percentEncode(value)}"`).join(', ')}`;
}

/** The injected client with every request signed (a fresh nonce and timestamp each, so a retry is signed anew). */
export function oauth1Client(http: HttpClient, credentials: OAuth1Credentials, options: OAuth1Options = {}): HttpClient {
  return {
    request(request: HttpRequest): Promise<HttpResponse> {
      const headers = { ...(request.headers ?? {}), authorization: oauth1Authorization(request, credentials, options) };
      return http.request({ ...request, headers });
    },
  };
}

/**
 * The parameters of an `Authorization: OAuth …` header, decoded (§3.5.1), for servers and fakes
 * that verify a signature; undefined when the header is not an OAuth one or is malformed.
 */
export function parseOAuth1Authorization(header: string | undefined): Record<string, string> | undefined {
  const match = header?.match(/^\s*OAuth\s+(.*)$/is);
  if (!match) return undefined;
  const parameters: Record<string, string> = {};
  for (const part of match[1].split(',')) {
    const field = part.trim().match(/^([A-Za-z0-9_]+)="([^"]*)"$/);
    if (!field) return undefined;
    try {
      parameters[field[1]] = decodeURIComponent(field[2]);
    } catch {
      return undefined;
    }
  }
  return parameters;
}
