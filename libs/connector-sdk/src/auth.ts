import { HttpClient, HttpRequest, HttpResponse } from './contracts';

/**
 * How a connector authenticates to its vendor: headers to add to every call, and, for tokens that
 * expire, a way to get a fresh one. Wrapped around the injected HTTP client by `authorizedClient`.
 */
export interface Authenticator {
  headers(http: HttpClient): Promise<Record<string, string>>;
  /**
   * The vendor refused the credential in `sent` (the headers a request carried): drop it if it is
   * still the cached one, and answer true when a retry (with a newer one) can help.
   */
  invalidate?(sent: Record<string, string>): boolean;
  /** Whether an answer says the credential was refused (default: a 401; Amazon answers an expired token with a 403). */
  refused?(response: HttpResponse): boolean;
}

/** A fixed header, e.g. Shopify's `X-Shopify-Access-Token` or an API key header. */
export function staticHeader(name: string, value: string): Authenticator {
  return { headers: async () => ({ [name]: value }) };
}

/** HTTP basic (RFC 7617): EasyPost takes its API key as the user name and no password. */
export function basicAuth(user: string, password = ''): Authenticator {
  const value = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  return { headers: async () => ({ authorization: value }) };
}

export function bearerToken(token: string): Authenticator {
  return { headers: async () => ({ authorization: `Bearer ${token}` }) };
}

export interface IssuedToken {
  accessToken: string;
  /** Lifetime from now; without it the token is kept until the vendor refuses it. */
  expiresInMs?: number;
}

/** Tokens are renewed this long before they expire, so a call never leaves with one about to lapse. */
const EXPIRY_MARGIN_MS = 30_000;
const issued = new Map<string, { token: IssuedToken; expiresAt: number; pending?: Promise<IssuedToken> }>();

/** Where an issued token goes on each call, and how the vendor says it refused it. */
export interface TokenPlacement {
  header: string;
  value(accessToken: string): string;
  refused?(response: HttpResponse): boolean;
}

/** `Authorization: Bearer <token>`, refused with a 401 (OAuth 2.0, RFC 6750). */
export const BEARER_PLACEMENT: TokenPlacement = { header: 'authorization', value: (token) => `Bearer ${token}` };

/**
 * A bearer token that is fetched when first needed, cached under `cacheKey` (per connection and
 * credential, so a rotated secret gets a new token) until shortly before it expires, shared by
 * concurrent calls (one fetch at a time), and fetched again after a 401. `fetchToken` calls the token
 * endpoint through the `http` it is handed, the hub's client, so that endpoint meets the same
 * destination policy as every other call.
 */
export function refreshingBearer(cacheKey: string, fetchToken: (http: HttpClient) => Promise<IssuedToken>, placement: TokenPlacement = BEARER_PLACEMENT): Authenticator {
  const current = async (http: HttpClient): Promise<IssuedToken> => {
    const entry = issued.get(cacheKey);
    if (entry && !entry.pending && Date.now() < entry.expiresAt) return entry.token;
    if (entry?.pending) return entry.pending;
    const pending = fetchToken(http);
    issued.set(cacheKey, { token: entry?.token ?? { accessToken: '' }, expiresAt: 0, pending });
    try {
      const token = await pending;
      const lifetime = token.expiresInMs === undefined ? Number.POSITIVE_INFINITY : Math.max(0, token.expiresInMs - EXPIRY_MARGIN_MS);
      issued.set(cacheKey, { token, expiresAt: Date.now() + lifetime });
      return token;
    } catch (error) {
      issued.delete(cacheKey);
      throw error;
    }
  };
  return {
    headers: async (http) => ({ [placement.header]: placement.value((await current(http)).accessToken) }),
    // Concurrent 401s for one token renew it once: only the cached token that failed is dropped, and
    // a fetch already under way is left to finish (with rotating refresh tokens a second fetch could
    // revoke the first).
    invalidate: (sent) => {
      const entry = issued.get(cacheKey);
      if (entry && !entry.pending && sent[placement.header] === placement.value(entry.token.accessToken)) issued.delete(cacheKey);
      return true;
    },
    refused: placement.refused,
  };
}

/**
 * The injected client with the vendor's authentication added. A refusal (a 401, or what the
 * authenticator says is one) from a vendor whose credential can be renewed is answered by renewing
 * it once and sending the request again; only a second refusal reaches the connector (AUTH_FAILED).
 */
export function authorizedClient(http: HttpClient, auth: Authenticator): HttpClient {
  const send = async (request: HttpRequest): Promise<{ response: HttpResponse; sent: Record<string, string> }> => {
    const sent = await auth.headers(http);
    return { response: await http.request({ ...request, headers: { ...(request.headers ?? {}), ...sent } }), sent };
  };
  return {
    async request(request: HttpRequest): Promise<HttpResponse> {
      const first = await send(request);
      const refused = auth.refused ? auth.refused(first.response) : first.response.status === 401;
      if (!refused || !auth.invalidate?.(first.sent)) return first.response;
      return (await send(request)).response;
    },
  };
}
