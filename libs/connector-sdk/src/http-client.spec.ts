import dns from 'node:dns';
import { DestinationPolicy, ReasonCode, parseAllowedPrivateDestinations } from '@omnihub/core';
import { FakeVendorServer } from '../../../test/support/fake-vendor';
import { authorizedClient, refreshingBearer } from './auth';
import { classifyTransportError } from './classify';
import { AxiosHttpClient, DestinationRefusedError } from './http-client';
import { failureOfTransport } from './vendor-failure';

const clientAllowing = (allowed: string) => new AxiosHttpClient(new DestinationPolicy(parseAllowedPrivateDestinations(allowed)));

/** A name that resolves, for this test, to the addresses given: what a DNS server under someone else's control can answer. */
function resolveName(name: string, addresses: string[]): void {
  const lookup = dns.lookup;
  jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
    if (hostname !== name) return (lookup as (...args: unknown[]) => void)(hostname, options, callback);
    const all = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    const wantsAll = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    process.nextTick(() => (wantsAll ? callback(null, all) : callback(null, all[0].address, all[0].family)));
  }) as unknown as typeof dns.lookup);
}

describe('the hub HTTP client and the destination policy', () => {
  let server: FakeVendorServer;
  let port: string;
  beforeEach(async () => {
    server = await FakeVendorServer.start(() => ({ status: 200, body: { ok: true } }));
    port = new URL(server.url).port;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await server.close();
  });

  it('calls a private address the allow-list names', async () => {
    const response = await clientAllowing('127.0.0.1').request({ method: 'GET', url: `${server.url}/x`, timeoutMs: 2000 });
    expect(response.status).toBe(200);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses an IP literal before sending anything, and the refusal is a rejection no retry can fix', async () => {
    const refused = await clientAllowing('').request({ method: 'POST', url: `http://user:s3cret@127.0.0.1:${port}/x?token=t0ken`, body: '{}', timeoutMs: 2000 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DestinationRefusedError);
    expect((refused as Error).message).toBe('127.0.0.1 is a loopback address; the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them');
    expect(classifyTransportError(refused)).toEqual({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `not sent: ${(refused as Error).message}` });
    expect(failureOfTransport(refused, 'Vendor GET /x')).toMatchObject({ retry: false, reason: ReasonCode.DESTINATION_REJECTED });
    expect(JSON.stringify(classifyTransportError(refused))).not.toMatch(/s3cret|t0ken|user/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a name at connect time when it resolves to a refused address, and sends nothing', async () => {
    resolveName('erp.rebind.test', ['127.0.0.1']);
    // The same name and answer, allowed by name: the request does reach the server, so the refusal below is the check's.
    const allowedByName = await clientAllowing('erp.rebind.test').request({ method: 'GET', url: `http://erp.rebind.test:${port}/x`, timeoutMs: 2000 });
    expect(allowedByName.status).toBe(200);
    expect(server.requests).toHaveLength(1);

    const refused = await clientAllowing('').request({ method: 'GET', url: `http://erp.rebind.test:${port}/x`, timeoutMs: 2000 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DestinationRefusedError);
    expect((refused as Error).message).toBe('erp.rebind.test resolves to 127.0.0.1, which is a loopback address; the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them');
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a name when any of its addresses is refused, not only the first', async () => {
    resolveName('erp.rebind.test', ['203.0.113.10', '169.254.169.254']);
    const refused = await clientAllowing('erp.rebind.test').request({ method: 'GET', url: `http://erp.rebind.test:${port}/x`, timeoutMs: 2000 }).catch((error: unknown) => error);
    expect((refused as Error).message).toBe('erp.rebind.test resolves to 169.254.169.254, which is a cloud metadata address; the hub never calls those, whatever HUB_ALLOWED_PRIVATE_DESTINATIONS says');
  });

  it('checks a token endpoint the same way: auth helpers call through the client they are handed', async () => {
    const http = clientAllowing('');
    const auth = refreshingBearer(`token-${port}`, async (client) => {
      await client.request({ method: 'POST', url: `http://10.0.0.5:${port}/oauth/token`, timeoutMs: 2000 });
      return { accessToken: 'never' };
    });
    const refused = await authorizedClient(http, auth).request({ method: 'GET', url: 'https://api.example.com/x', timeoutMs: 2000 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DestinationRefusedError);
    expect((refused as Error).message).toMatch(/^10\.0\.0\.5 is a private \(RFC 1918\) address/);
  });
});
