import dns from 'node:dns';
import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

/**
 * Issue 16 item 6: a connection's URL cannot aim the hub inside its own network. This hub allows
 * some private ranges and one host name, but not loopback, where the fake destination listens.
 */
describe('outbound requests stay out of the hub network', () => {
  const ctx = useHubWithSink({ HUB_ALLOWED_PRIVATE_DESTINATIONS: '10.1.0.0/16,100.64.0.0/10,fc00::/7,erp-allowed.rebind.test' });
  const PRIVATE = 'the hub calls private addresses only where HUB_ALLOWED_PRIVATE_DESTINATIONS allows them';
  const NEVER = 'the hub never calls those, whatever HUB_ALLOWED_PRIVATE_DESTINATIONS says';

  const createWith = (connector: string, config: Record<string, unknown>, secrets: Record<string, string> = {}) => ctx.hub.admin.post('/api/connections', { connector, name: `guard-${connector}`, config, secrets });
  const destinationOn = (url: string) => createWith('generic-http', { url });

  /** Names under rebind.test answer loopback from here on, as a DNS server someone else controls can make any name do. */
  function resolveToLoopback(): void {
    const lookup = dns.lookup;
    jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
      if (!hostname.endsWith('.rebind.test')) return (lookup as (...args: unknown[]) => void)(hostname, options, callback);
      const wantsAll = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
      process.nextTick(() => (wantsAll ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)));
    }) as unknown as typeof dns.lookup);
  }
  afterEach(() => jest.restoreAllMocks());

  it('refuses a destination on a private address with 400 naming the field, unless its range is allowed', async () => {
    const refused = await destinationOn('http://10.0.0.5/orders');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: `config is invalid: /config/url 10.0.0.5 is a private (RFC 1918) address; ${PRIVATE}`,
      details: [{ path: '/config/url', message: `10.0.0.5 is a private (RFC 1918) address; ${PRIVATE}` }],
    });
    expect((await destinationOn('http://127.0.0.1:4000/orders')).body.error.details).toEqual([{ path: '/config/url', message: `127.0.0.1 is a loopback address; ${PRIVATE}` }]);
    expect((await destinationOn('http://localhost:4000/orders')).body.error.details[0].path).toBe('/config/url');
    expect((await destinationOn('http://[::ffff:192.168.0.1]/orders')).body.error.details[0].message).toMatch(/private \(RFC 1918\)/);
    // Every connector's baseUrl is an address the hub calls.
    const baseUrl = await createWith('easypost', { baseUrl: 'http://192.168.1.10:8080' }, { apiKey: 'EZTK1' });
    expect(baseUrl.status).toBe(400);
    expect(baseUrl.body.error.details).toEqual([{ path: '/config/baseUrl', message: `192.168.1.10 is a private (RFC 1918) address; ${PRIVATE}` }]);

    expect((await destinationOn('http://10.1.2.3/orders')).status).toBe(201);
    expect((await destinationOn('http://[fd12::7]/orders')).status).toBe(201);
    // A URI the hub never calls (the URL Square signs) may be private.
    expect((await createWith('square', { notificationUrl: 'http://10.0.3.7:3000/webhooks/square' }, { signatureKey: 'k' })).status).toBe(201);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
    ['http://100.100.100.200/latest/meta-data/', '100.100.100.200 is a cloud metadata address'], // inside the allowed 100.64.0.0/10
    ['http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254 is a cloud metadata address'], // inside the allowed fc00::/7
    ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe is a cloud metadata address'],
    ['http://2852039166/', '169.254.169.254 is a cloud metadata address'], // the same address written as one number
    ['http://169.254.10.1/', '169.254.10.1 is a link-local address'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a cloud metadata service'],
  ])('refuses %s with 400 even where private ranges are allowed', async (url, why) => {
    const refused = await destinationOn(url);
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ path: '/config/url', message: `${why}; ${NEVER}` }]);
  });

  it('refuses a PATCH to such a URL and keeps the one stored', async () => {
    const destination = await createDestination(ctx.hub, 'http://10.1.0.9/orders');
    const refused = await ctx.hub.admin.patch(`/api/connections/${destination.id}`, { config: { url: 'http://169.254.169.254/latest/meta-data/' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ path: '/config/url', message: `169.254.169.254 is a cloud metadata address; ${NEVER}` }]);
    const baseUrl = await ctx.hub.admin.patch(`/api/connections/${destination.id}`, { config: { url: 'http://10.1.0.9/orders', baseUrl: 'http://172.16.0.1' } });
    expect(baseUrl.body.error.details).toEqual([{ path: '/config/baseUrl', message: `172.16.0.1 is a private (RFC 1918) address; ${PRIVATE}` }]);
    expect((await ctx.hub.admin.get(`/api/connections/${destination.id}`)).body.config).toEqual({ url: 'http://10.1.0.9/orders' });
  });

  it('refuses at connect time a host name that resolves to a private address: dead-lettered at once, nothing sent', async () => {
    resolveToLoopback();
    const port = new URL(ctx.sink.url).port;
    const source = await createSource(ctx.hub);
    // A name says nothing about its address when it is saved, so both are accepted then.
    const refusedName = await createDestination(ctx.hub, `http://erp.rebind.test:${port}/orders`);
    const allowedName = await createDestination(ctx.hub, `http://erp-allowed.rebind.test:${port}/orders`);
    await createRoute(ctx.hub, source.id, refusedName.id);
    await createRoute(ctx.hub, source.id, allowedName.id);

    const accepted = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
    expect(accepted.status).toBe(202);
    const deliveries = await waitFor(async () => {
      const res = await ctx.hub.admin.get(`/api/messages/${accepted.body.messageId}`);
      return res.body.status === 'completed' ? (res.body.deliveries as Array<Record<string, unknown>>) : undefined;
    }, 'both deliveries settled');

    // The name the allow-list names reaches the fake destination over the same answer: so it is the check that stopped the other.
    expect(deliveries.find((d) => d.destinationConnectionId === allowedName.id)).toMatchObject({ status: 'delivered' });
    expect(ctx.sink.requests.map((r) => r.headers.host)).toEqual([`erp-allowed.rebind.test:${port}`]);

    const refused = deliveries.find((d) => d.destinationConnectionId === refusedName.id)!;
    const why = `not sent: erp.rebind.test resolves to 127.0.0.1, which is a loopback address; ${PRIVATE}`;
    expect(refused).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_REJECTED', lastError: why });
    expect(refused.attempts).toEqual([expect.objectContaining({ attemptNumber: 1, outcome: 'dead_letter', reasonCode: 'DESTINATION_REJECTED', httpStatus: null, error: why })]);
    const deadLetters = await ctx.hub.admin.get(`/api/dead-letters?reasonCode=DESTINATION_REJECTED&connectionId=${refusedName.id}`);
    expect(deadLetters.body.items).toEqual([expect.objectContaining({ deliveryId: refused.id, stage: 'deliver' })]);
  });
});
