import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { projectRoot } from '@omnihub/core';
import { ConnectionContext, ConnectorManifest, Headers, MANIFEST_SCHEMA, outboundDelivery } from '@omnihub/connector-sdk';
import { connectorContext } from '../../test/support/connector-context';
import { FakeEasyPost, startFakeEasyPost } from './fake-easypost';
import { easypostSignature } from './inbound';
import connector = require('./index');

const inbound = connector.inbound!;
const outbound = connector.outbound!;
const ROOT = projectRoot();
const HERE = path.join(ROOT, 'connectors', 'easypost');

// REFERENCE.md §4 worked example: the sample raw body (no trailing newline) and a secret with an é.
const SAMPLE_BODY = fs.readFileSync(path.join(HERE, 'fixtures', 'tracker-updated.raw-body.json'));
const SAMPLE_SECRET_NFC = 'ep-s3cr\u00e9t-7Qx';
const SAMPLE_SECRET_NFD = 'ep-s3cre\u0301t-7Qx';
const SAMPLE_SIGNATURE = 'hmac-sha256-hex=26b34d86c288bb54e6e75e7f4c02c53a059c356ee03d45d3709f4031791cd175';

/**
 * EasyPost's published vector (EasyPost/examples official/fixtures/client-library-fixtures.json):
 * compact official/fixtures/event-body.json, secret "sécret". That body is EasyPost's file, not
 * Omnihub's, so it is not kept in this repository; the case runs when the file has been put next to
 * the shared vendor samples (with or without its trailing newline: the vector is over the compact form).
 */

const connection = (secrets: Record<string, string> = { webhookSecret: SAMPLE_SECRET_NFC }): ConnectionContext => ({ connectionId: 'ep-1', config: {}, secrets });
const request = (headers: Headers, rawBody: Buffer = SAMPLE_BODY) => ({ rawBody, headers, url: 'https://hub.example.com/webhooks/ep-1' });
const hexHmac = (key: Buffer | string, body: Buffer) => createHmac('sha256', key).update(body).digest('hex');

describe('easypost inbound verifier (X-Hmac-Signature v1)', () => {
  const flipped = Buffer.from(SAMPLE_BODY);
  flipped[flipped.indexOf('out_for_delivery')] ^= 0x01; // one byte of the status changed: "nut_for_delivery"
  const digest = SAMPLE_SIGNATURE.slice('hmac-sha256-hex='.length);

  const cases: Array<[string, Record<string, string>, Headers, Buffer, boolean]> = [
    ['the worked example (secret typed with a precomposed é, NFC)', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, SAMPLE_BODY, true],
    ['the worked example with the secret typed decomposed (e + U+0301): NFKD makes it the same key', { webhookSecret: SAMPLE_SECRET_NFD }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, SAMPLE_BODY, true],
    ['a sender that keyed the HMAC with the NFC bytes (no NFKD) is refused', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `hmac-sha256-hex=${hexHmac(Buffer.from(SAMPLE_SECRET_NFC, 'utf8'), SAMPLE_BODY)}` }, SAMPLE_BODY, false],
    ['surrounding whitespace in the header value', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': ` ${SAMPLE_SIGNATURE}\t` }, SAMPLE_BODY, true],
    ['upper-case hex digest', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `hmac-sha256-hex=${digest.toUpperCase()}` }, SAMPLE_BODY, true],
    ['a repeated header: the first value counts', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': [SAMPLE_SIGNATURE, 'junk'] }, SAMPLE_BODY, true],
    ['one byte of the body changed', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, flipped, false],
    ['the body re-serialised (indented JSON)', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, Buffer.from(JSON.stringify(JSON.parse(SAMPLE_BODY.toString('utf8')), null, 2)), false],
    ['the body with a trailing newline', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, Buffer.concat([SAMPLE_BODY, Buffer.from('\n')]), false],
    ['another secret', { webhookSecret: 'ep-secret-7Qx' }, { 'x-hmac-signature': SAMPLE_SIGNATURE }, SAMPLE_BODY, false],
    ['wrong prefix (sha256=)', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `sha256=${digest}` }, SAMPLE_BODY, false],
    ['prefix missing (bare digest)', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': digest }, SAMPLE_BODY, false],
    ['prefix in another case', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `HMAC-SHA256-HEX=${digest}` }, SAMPLE_BODY, false],
    ['digest of the wrong length', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': SAMPLE_SIGNATURE.slice(0, -2) }, SAMPLE_BODY, false],
    ['base64 where hex is expected', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `hmac-sha256-hex=${Buffer.from(digest, 'hex').toString('base64')}` }, SAMPLE_BODY, false],
    ['non-hex garbage after the prefix', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': `hmac-sha256-hex=${'zz'.repeat(32)}` }, SAMPLE_BODY, false],
    ['an empty header', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature': '' }, SAMPLE_BODY, false],
    ['no signature header', { webhookSecret: SAMPLE_SECRET_NFC }, {}, SAMPLE_BODY, false],
    ['only the v2 header (its string-to-sign is unpublished)', { webhookSecret: SAMPLE_SECRET_NFC }, { 'x-hmac-signature-v2': SAMPLE_SIGNATURE, 'x-timestamp': 'Tue, 18 Mar 2025 18:42:11 -0000', 'x-path': '/webhooks/ep-1' }, SAMPLE_BODY, false],
    ['the connection has no webhookSecret', {}, { 'x-hmac-signature': SAMPLE_SIGNATURE }, SAMPLE_BODY, false],
  ];

  it.each(cases)('%s', (_name, secrets, headers, body, expected) => {
    const verdict = inbound.verify(request(headers, body), connection(secrets));
    expect(verdict.ok).toBe(expected);
    if (!verdict.ok) {
      expect(verdict.reason).not.toContain(SAMPLE_SECRET_NFC);
      expect(verdict.reason).not.toContain(digest);
    }
  });

  it('signs the worked example the way EasyPost does, and NFC/NFD secrets really are different bytes', () => {
    expect(Buffer.from(SAMPLE_SECRET_NFC, 'utf8').equals(Buffer.from(SAMPLE_SECRET_NFD, 'utf8'))).toBe(false);
    expect(easypostSignature(SAMPLE_SECRET_NFC, SAMPLE_BODY)).toBe(SAMPLE_SIGNATURE);
    expect(easypostSignature(SAMPLE_SECRET_NFD, SAMPLE_BODY)).toBe(SAMPLE_SIGNATURE);
  });

  it('never throws, whatever the request holds', () => {
    const hostile = [
      request({ 'x-hmac-signature': ['', ''] }),
      request({ 'x-hmac-signature': undefined }),
      { rawBody: undefined as unknown as Buffer, headers: { 'x-hmac-signature': SAMPLE_SIGNATURE }, url: '' },
      { rawBody: SAMPLE_BODY, headers: null as unknown as Headers, url: '' },
    ];
    for (const r of hostile) expect(() => inbound.verify(r, connection())).not.toThrow();
    for (const r of hostile) expect(inbound.verify(r, connection()).ok).toBe(false);
    expect(inbound.verify(request({ 'x-hmac-signature': SAMPLE_SIGNATURE }), { connectionId: 'x', config: {}, secrets: undefined as unknown as Record<string, string> }).ok).toBe(false);
  });
  // EasyPost's own published vector is over the event body of EasyPost/examples, which this repository
  // cannot carry; the worked example above (same scheme, an NFKD-sensitive secret) stands in for it.
});

describe('easypost extract', () => {
  const extract = (body: string | Buffer) => inbound.extract(request({}, Buffer.isBuffer(body) ? body : Buffer.from(body)), connection());
  const event = (overrides: Record<string, unknown>, result: Record<string, unknown> = {}) =>
    JSON.stringify({ id: 'evt_1', object: 'Event', description: 'tracker.updated', ...overrides, result: { id: 'trk_1', object: 'Tracker', updated_at: '2024-08-02T19:26:51Z', ...result } });

  it('takes the topic, the Event id and the tracker with its updated_at in UTC from the sample', () => {
    expect(extract(SAMPLE_BODY)).toEqual({
      topic: 'tracker.updated',
      deliveryId: 'evt_8f3c2a9d1e7b4c6a9f0e2d1c3b5a7980',
      entity: { key: 'tracker:trk_4b7e9a2c1d3f45e8b6a0c2d4e6f8a1b3', version: '2025-03-17T18:42:10.000Z' },
    });
  });

  const cases: Array<[string, string, object]> = [
    ['tracker.created', event({ description: 'tracker.created' }), { topic: 'tracker.created', deliveryId: 'evt_1', entity: { key: 'tracker:trk_1', version: '2024-08-02T19:26:51.000Z' } }],
    ['an updated_at with an offset becomes UTC', event({}, { updated_at: '2024-08-02T15:26:51-04:00' }), { entity: { key: 'tracker:trk_1', version: '2024-08-02T19:26:51.000Z' } }],
    ['versions keep their milliseconds, so they order as strings', event({}, { updated_at: '2024-08-02T19:26:51.5Z' }), { entity: { key: 'tracker:trk_1', version: '2024-08-02T19:26:51.500Z' } }],
    ['an unreadable updated_at leaves the version out', event({}, { updated_at: 'yesterday' }), { entity: { key: 'tracker:trk_1' } }],
    ['another EasyPost object is keyed by its own type', event({ description: 'batch.updated' }, { id: 'batch_9', object: 'Batch' }), { topic: 'batch.updated', entity: { key: 'batch:batch_9' } }],
    ['no result: no entity', JSON.stringify({ id: 'evt_2', description: 'payment.completed' }), { topic: 'payment.completed', deliveryId: 'evt_2' }],
  ];
  it.each(cases)('%s', (_name, body, expected) => {
    expect(extract(body)).toMatchObject(expected);
  });

  it.each([['not JSON', '{"id":"evt_1",'], ['a JSON array', '[1,2]'], ['JSON null', 'null'], ['an empty body', ''], ['wrong types', '{"id":7,"description":["x"],"result":"trk_1"}'], ['not UTF-8', Buffer.from([0xff, 0xfe, 0x00])]] as const)(
    'does not throw on %s and names no topic',
    (_name, body) => {
      const delivery = extract(typeof body === 'string' ? body : Buffer.from(body));
      expect(delivery).toEqual({ topic: 'unknown' });
      expect(inbound.eventTypeFor(delivery.topic, connection())).toBeUndefined();
    },
  );

  it('maps tracker topics to tracking.updated and nothing else', () => {
    expect(inbound.eventTypeFor('tracker.created', connection())).toBe('tracking.updated');
    expect(inbound.eventTypeFor('tracker.updated', connection())).toBe('tracking.updated');
    expect(inbound.eventTypeFor('batch.updated', connection())).toBeUndefined();
  });
});

describe('easypost manifest', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(HERE, 'manifest.json'), 'utf8')) as ConnectorManifest;

  it('is valid, and every operation and mapping it names exists', () => {
    const validate = new Ajv({ allErrors: true }).compile(MANIFEST_SCHEMA);
    expect(validate(manifest) ? [] : validate.errors).toEqual([]);
    expect(manifest.kind).toBe('tms');
    for (const op of manifest.outbound?.operations ?? []) expect(typeof outbound.operations[op.operation]).toBe('function');
    for (const t of manifest.inbound?.topics ?? []) expect(fs.existsSync(path.join(ROOT, 'mappings', `${t.mapping}.jsonata`))).toBe(true);
  });
});

describe('easypost outbound create-trackers against the fake EasyPost', () => {
  let fake: FakeEasyPost;
  beforeEach(async () => {
    fake = await startFakeEasyPost();
  });
  afterEach(() => fake.close());

  const shipment = (trackingNumbers: unknown[], carrier: string | null = 'USPS') => {
    const event = {
      specversion: '1.0',
      id: 'msg-1',
      source: '/connections/shop-1',
      type: 'shipment.created',
      time: '2025-03-15T13:20:00.000Z',
      datacontenttype: 'application/json',
      dataschema: 'https://omnihub.dev/schemas/shipment.v1.json',
      correlationid: 'msg-1',
      data: { externalIds: { shopify: '5001' }, orderRef: { externalIds: { shopify: '1001' } }, carrier, trackingNumbers, lines: [{ sku: 'MUG-1', quantity: 1 }] },
    };
    return { eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type };
  };
  type Context = ReturnType<typeof connectorContext>;
  const contextFor = (config: Record<string, unknown> = {}, secrets: Record<string, string> = { apiKey: fake.apiKey }): Context => connectorContext({ baseUrl: fake.url, ...config }, secrets);
  const deliver = (stored: ReturnType<typeof shipment>, context: Context = contextFor()) => outbound.operations['create-trackers'](outboundDelivery(stored, { ...context, idempotencyKey: 'delivery-1' }));

  it('POSTs /v2/trackers with the API key as the basic user name and exactly EasyPost\'s body, and remembers the tracker', async () => {
    const context = contextFor();
    expect(await deliver(shipment(['EZ1000000001']), context)).toEqual({ outcome: 'delivered', httpStatus: 201 });
    const [seen] = fake.trackerRequests();
    expect(fake.trackerRequests()).toHaveLength(1);
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/v2/trackers');
    expect(seen.headers.authorization).toBe(`Basic ${Buffer.from(`${fake.apiKey}:`).toString('base64')}`);
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.body).toBe('{"tracker":{"tracking_code":"EZ1000000001","carrier":"USPS"}}');
    expect(fake.trackers).toHaveLength(1);
    expect(fake.trackers[0].id).toMatch(/^trk_[0-9a-f]{32}$/);
    expect(await context.xrefs.externalId('tracker', 'EZ1000000001')).toBe(fake.trackers[0].id);
  });

  it('creates one tracker per distinct number; carrierNames renames the carrier; no carrier is left for EasyPost to detect', async () => {
    const context = contextFor({ carrierNames: { 'us postal service': 'USPS' } });
    expect(await deliver(shipment(['EZ2000000002', ' EZ3000000003 ', 'EZ2000000002', '', 7], 'US Postal Service'), context)).toMatchObject({ outcome: 'delivered' });
    expect(fake.trackerRequests().map((r) => r.json)).toEqual([
      { tracker: { tracking_code: 'EZ2000000002', carrier: 'USPS' } },
      { tracker: { tracking_code: 'EZ3000000003', carrier: 'USPS' } },
    ]);
    expect([...context.xrefs.entries.values()]).toEqual(fake.trackers.map((t) => t.id));
    await deliver(shipment(['EZ4000000004'], null));
    expect(fake.trackerRequests()[2].json).toEqual({ tracker: { tracking_code: 'EZ4000000004' } });
  });

  it('has nothing to do for a shipment without tracking numbers', async () => {
    expect(await deliver(shipment([]))).toEqual({ outcome: 'delivered' });
    expect(fake.server.requests).toHaveLength(0);
  });

  const failures: Array<[string, { status: number; headers?: Record<string, string>; body?: unknown }, object]> = [
    ['503: retried', { status: 503, body: { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Temporarily unavailable', errors: [] } } }, { outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503 }],
    ['503 with a non-JSON body: retried', { status: 503, body: '<html>Service Unavailable</html>' }, { outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503 }],
    ['429 with Retry-After: rate limited, retried after it', { status: 429, headers: { 'retry-after': '7' }, body: { error: { code: 'RATE_LIMITED', message: 'Too many requests', errors: [] } } }, { outcome: 'retry', reason: 'RATE_LIMITED', httpStatus: 429, retryAfterMs: 7000 }],
    ['403: an auth failure', { status: 403, body: { error: { code: 'FORBIDDEN', message: 'Not allowed', errors: [] } } }, { outcome: 'reject', reason: 'AUTH_FAILED', httpStatus: 403 }],
  ];
  it.each(failures)('%s', async (_name, reply, expected) => {
    fake.failNextCreate('EZ1000000001', reply);
    const outcome = await deliver(shipment(['EZ1000000001']));
    expect(outcome).toMatchObject(expected);
    expect(outcome.outcome === 'delivered' ? '' : outcome.message).toContain('EZ1000000001');
  });

  it('rejects a tracking code EasyPost refuses (422) with EasyPost\'s code and message', async () => {
    const outcome = await deliver(shipment(['NOT-A-TRACKING-CODE']));
    expect(outcome).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED', httpStatus: 422 });
    const message = outcome.outcome === 'reject' ? outcome.message : '';
    expect(message).toContain('TRACKER.CREATE.ERROR');
    expect(message).toContain('In test mode, only test tracking numbers are valid');
    expect(message).toContain('NOT-A-TRACKING-CODE');
  });

  it('names EasyPost\'s field errors in a 422', async () => {
    fake.failNextCreate('EZ1000000001', { status: 422, body: { error: { code: 'PARAMETER.INVALID', message: 'Invalid parameters', errors: [{ field: 'carrier', message: 'is not a supported carrier' }] } } });
    const outcome = await deliver(shipment(['EZ1000000001'], 'Owl Post'));
    expect(outcome).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED', message: expect.stringContaining('PARAMETER.INVALID: Invalid parameters (carrier is not a supported carrier)') });
  });

  it('is AUTH_FAILED with EasyPost\'s APIKEY error for a wrong key, and without calling EasyPost when there is no key', async () => {
    const wrong = await deliver(shipment(['EZ1000000001']), contextFor({}, { apiKey: 'EZTK_not_the_key' }));
    expect(wrong).toMatchObject({ outcome: 'reject', reason: 'AUTH_FAILED', httpStatus: 401, message: expect.stringContaining('APIKEY.REQUIRED') });
    const before = fake.server.requests.length;
    expect(await deliver(shipment(['EZ1000000001']), contextFor({}, {}))).toMatchObject({ outcome: 'reject', reason: 'AUTH_FAILED' });
    expect(fake.server.requests).toHaveLength(before);
  });

  it('a retry after a partial success does not create the first tracker again', async () => {
    const context = contextFor();
    const stored = shipment(['EZ1000000001', 'EZ2000000002', 'EZ3000000003']);
    fake.failNextCreate('EZ2000000002', { status: 503, body: { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Temporarily unavailable', errors: [] } } });

    const first = await deliver(stored, context);
    expect(first).toMatchObject({ outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', message: expect.stringContaining('1 tracker(s) created before it') });
    expect(fake.trackers.map((t) => t.tracking_code)).toEqual(['EZ1000000001']); // the failure stopped the rest

    expect(await deliver(stored, context)).toEqual({ outcome: 'delivered', httpStatus: 201 });
    expect(fake.trackerRequests().map((r) => (r.json as { tracker: { tracking_code: string } }).tracker.tracking_code)).toEqual(['EZ1000000001', 'EZ2000000002', 'EZ2000000002', 'EZ3000000003']);
    expect(fake.trackers.map((t) => t.tracking_code)).toEqual(['EZ1000000001', 'EZ2000000002', 'EZ3000000003']);

    // A replay of the delivered event calls EasyPost not at all.
    const calls = fake.server.requests.length;
    expect(await deliver(stored, context)).toEqual({ outcome: 'delivered' });
    expect(fake.server.requests).toHaveLength(calls);
  });

  it('classifies an unreachable EasyPost as a retryable network error', async () => {
    const context = connectorContext({ baseUrl: 'http://127.0.0.1:9' }, { apiKey: fake.apiKey });
    expect(await deliver(shipment(['EZ1000000001']), context)).toMatchObject({ outcome: 'retry', reason: 'NETWORK_ERROR', message: expect.stringContaining('EZ1000000001') });
  });
});

describe('fake EasyPost', () => {
  it('answers like EasyPost: 401 APIKEY.REQUIRED without a key, trackers readable back, 404 for the unknown', async () => {
    const fake = await startFakeEasyPost({ apiKey: 'EZAK_fake_production_key' });
    try {
      const context = connectorContext({}, {});
      const auth = `Basic ${Buffer.from(`${fake.apiKey}:`).toString('base64')}`;
      const noKey = await context.http.request({ method: 'POST', url: `${fake.url}/v2/trackers`, body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 2000 });
      expect(noKey.status).toBe(401);
      expect(JSON.parse(noKey.body)).toEqual({ error: { code: 'APIKEY.REQUIRED', message: expect.any(String), errors: [] } });
      const created = await context.http.request({ method: 'POST', url: `${fake.url}/v2/trackers`, body: '{"tracker":{"tracking_code":"1Z999AA10123456784","carrier":"UPS"}}', headers: { authorization: auth, 'content-type': 'application/json' }, timeoutMs: 2000 });
      expect(created.status).toBe(201);
      const tracker = JSON.parse(created.body) as { id: string; mode: string; carrier: string };
      expect(tracker).toMatchObject({ mode: 'production', carrier: 'UPS' });
      const read = await context.http.request({ method: 'GET', url: `${fake.url}/v2/trackers/${tracker.id}`, headers: { authorization: auth }, timeoutMs: 2000 });
      expect(JSON.parse(read.body)).toEqual(JSON.parse(created.body));
      const missing = await context.http.request({ method: 'GET', url: `${fake.url}/v2/trackers/trk_none`, headers: { authorization: auth }, timeoutMs: 2000 });
      expect(missing.status).toBe(404);
    } finally {
      await fake.close();
    }
  });
});
