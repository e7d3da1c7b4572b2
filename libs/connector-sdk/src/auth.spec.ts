import { randomUUID } from 'node:crypto';
import { testHttpClient } from '../../../test/support/connector-context';
import { FakeVendorServer } from '../../../test/support/fake-vendor';
import { authorizedClient, basicAuth, bearerToken, refreshingBearer, staticHeader } from './auth';
import { HttpClient } from './contracts';

/**
 * A vendor that issues tokens at POST /oauth/token (each one new) and accepts only the newest
 * one on GET /resource; `revoke()` makes it refuse every token issued so far, as after a rotation.
 */
async function tokenVendor() {
  let issued = 0;
  let valid = new Set<string>();
  const server = await FakeVendorServer.start((request) => {
    if (request.path === '/oauth/token') {
      const token = `token-${++issued}`;
      valid.add(token);
      return { status: 200, body: { access_token: token, expires_in: 3600 } };
    }
    const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    return valid.has(token) ? { status: 200, body: { ok: true, token } } : { status: 401, body: { error: 'invalid_token' } };
  });
  return { server, revoke: () => (valid = new Set()), tokensIssued: () => issued };
}

describe('auth helpers around the injected HTTP client', () => {
  const http = testHttpClient();

  it.each([
    ['a static header', staticHeader('X-Shopify-Access-Token', 'shpat_1'), 'x-shopify-access-token', 'shpat_1'],
    ['HTTP basic with the key as user name', basicAuth('EZTK123'), 'authorization', `Basic ${Buffer.from('EZTK123:').toString('base64')}`],
    ['a bearer token', bearerToken('sq0atp-1'), 'authorization', 'Bearer sq0atp-1'],
  ])('adds %s to every request', async (_name, auth, header, value) => {
    const server = await FakeVendorServer.start(() => ({ status: 200, body: {} }));
    try {
      await authorizedClient(http, auth).request({ method: 'GET', url: `${server.url}/x`, headers: { accept: 'application/json' }, timeoutMs: 2000 });
      expect(server.requests[0].headers[header]).toBe(value);
      expect(server.requests[0].headers.accept).toBe('application/json');
    } finally {
      await server.close();
    }
  });

  it('a static credential that gets a 401 is not retried: the 401 is the answer', async () => {
    const server = await FakeVendorServer.start(() => ({ status: 401, body: {} }));
    try {
      const response = await authorizedClient(http, bearerToken('stale')).request({ method: 'GET', url: `${server.url}/x`, timeoutMs: 2000 });
      expect(response.status).toBe(401);
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  describe('refreshingBearer', () => {
    let vendor: Awaited<ReturnType<typeof tokenVendor>>;
    beforeEach(async () => (vendor = await tokenVendor()));
    afterEach(() => vendor.server.close());

    const fetchToken = (url: string) => async (client: HttpClient) => {
      const response = await client.request({ method: 'POST', url: `${url}/oauth/token`, timeoutMs: 2000 });
      const body = JSON.parse(response.body) as { access_token: string; expires_in: number };
      return { accessToken: body.access_token, expiresInMs: body.expires_in * 1000 };
    };

    it('fetches one token for concurrent calls and keeps using it', async () => {
      const client = authorizedClient(http, refreshingBearer(`conn-${randomUUID()}`, fetchToken(vendor.server.url)));
      const answers = await Promise.all([1, 2, 3, 4].map(() => client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 })));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      expect(vendor.tokensIssued()).toBe(1);
    });

    it('renews the token once after a 401 and sends the request again', async () => {
      const client = authorizedClient(http, refreshingBearer(`conn-${randomUUID()}`, fetchToken(vendor.server.url)));
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      vendor.revoke();
      const response = await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ ok: true, token: 'token-2' });
      expect(vendor.server.seen('/resource').map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2']);
    });

    it('renews once for concurrent calls that all got a 401 for the same token', async () => {
      const client = authorizedClient(http, refreshingBearer(`conn-${randomUUID()}`, fetchToken(vendor.server.url)));
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      vendor.revoke();
      const answers = await Promise.all([1, 2, 3, 4, 5].map(() => client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 })));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(vendor.tokensIssued()).toBe(2);
    });

    it('renews only once: a vendor that refuses the new token too answers 401', async () => {
      const server = await FakeVendorServer.start((request) => (request.path === '/oauth/token' ? { status: 200, body: { access_token: randomUUID(), expires_in: 60 } } : { status: 401, body: {} }));
      try {
        const client = authorizedClient(http, refreshingBearer(`conn-${randomUUID()}`, fetchToken(server.url)));
        expect((await client.request({ method: 'GET', url: `${server.url}/resource`, timeoutMs: 2000 })).status).toBe(401);
        expect(server.seen('/resource')).toHaveLength(2);
        expect(server.seen('/oauth/token')).toHaveLength(2);
      } finally {
        await server.close();
      }
    });

    it('fetches a new token once the cached one is about to expire', async () => {
      let expiresInMs = 20_000; // inside the 30 s renewal margin: used once, then renewed
      const key = `conn-${randomUUID()}`;
      const auth = refreshingBearer(key, async (client) => ({ ...(await fetchToken(vendor.server.url)(client)), expiresInMs }));
      const client = authorizedClient(http, auth);
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      expiresInMs = 3_600_000;
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      await client.request({ method: 'GET', url: `${vendor.server.url}/resource`, timeoutMs: 2000 });
      expect(vendor.tokensIssued()).toBe(2);
    });
  });
});
