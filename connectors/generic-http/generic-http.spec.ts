import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { ConnectionContext, OutboundDelivery, outboundDelivery } from '@omnihub/connector-sdk';
import { memoryStores, testHttpClient } from '../../test/support/connector-context';
import { CanonicalEvent } from '@omnihub/core';
import connector = require('./index');

const SECRET = 'generic-secret';
const BODY = Buffer.from('{"orderNumber":"#1001","note":"caf\u00e9 \\/ slash"}');
const hmac = (encoding: 'hex' | 'base64', secret = SECRET, body: Buffer = BODY) => createHmac('sha256', secret).update(body).digest(encoding);

const context = (config: Record<string, unknown>, secrets: Record<string, string> = { signingSecret: SECRET }): ConnectionContext => ({ connectionId: 'c1', config, secrets });

describe('generic-http inbound verifier', () => {
  const inbound = connector.inbound!;
  const cases: Array<[string, Record<string, unknown>, Record<string, string | string[]>, boolean]> = [
    ['hex digest in the default header', {}, { 'x-omnihub-signature': hmac('hex') }, true],
    ['base64 digest with a sha256= prefix', { signatureHeader: 'X-Sig', signatureEncoding: 'base64', signaturePrefix: 'sha256=' }, { 'x-sig': `sha256=${hmac('base64')}` }, true],
    ['surrounding whitespace in the header value', {}, { 'x-omnihub-signature': ` ${hmac('hex')} ` }, true],
    ['a repeated header: the first value counts', {}, { 'x-omnihub-signature': [hmac('hex'), 'junk'] }, true],
    ['digest made with another secret', {}, { 'x-omnihub-signature': hmac('hex', 'other') }, false],
    ['digest of other bytes (re-serialised JSON)', {}, { 'x-omnihub-signature': hmac('hex', SECRET, Buffer.from(JSON.stringify(JSON.parse(BODY.toString())))) }, false],
    ['digest of the wrong length', {}, { 'x-omnihub-signature': 'abc' }, false],
    ['base64 sent where hex is configured', {}, { 'x-omnihub-signature': hmac('base64') }, false],
    ['prefix missing', { signaturePrefix: 'sha256=' }, { 'x-omnihub-signature': hmac('hex') }, false],
    ['no signature header', {}, {}, false],
  ];

  it.each(cases)('%s', (_name, config, headers, expected) => {
    const verdict = inbound.verify({ rawBody: BODY, headers, url: 'http://hub/webhooks/c1' }, context(config));
    expect(verdict.ok).toBe(expected);
    if (!verdict.ok) expect(verdict.reason).not.toContain(SECRET);
  });

  it('refuses everything when the connection has no secret', () => {
    expect(inbound.verify({ rawBody: BODY, headers: { 'x-omnihub-signature': hmac('hex') }, url: '' }, context({}, {})).ok).toBe(false);
  });

  it('extracts the topic and the delivery id from the configured headers, or a fixed event type', () => {
    const config = { eventTypeHeader: 'X-Event', deliveryIdHeader: 'X-Id' };
    expect(inbound.extract({ rawBody: BODY, headers: { 'x-event': 'order.updated', 'x-id': 'd-1' }, url: '' }, context(config))).toEqual({ topic: 'order.updated', deliveryId: 'd-1' });
    expect(inbound.extract({ rawBody: BODY, headers: {}, url: '' }, context({ eventType: 'inventory.level' }))).toEqual({ topic: 'inventory.level', deliveryId: undefined });
  });
});

describe('generic-http outbound client against a real HTTP server', () => {
  const outbound = connector.outbound!;
  let server: http.Server;
  let url: string;
  let next: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
  const httpClient = testHttpClient();
  const event = { specversion: '1.0', id: 'm1', type: 'order.created', data: { orderNumber: '#1' } } as unknown as CanonicalEvent;
  // Not JSON.stringify's own output (indented): a connector that re-serialised the event would send other bytes.
  const stored = { eventJson: JSON.stringify(event, null, 1), eventId: event.id, eventType: event.type };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => next(req, res, body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const send = (delivery: OutboundDelivery) => outbound.operations['post-cloudevent'](delivery);
  const at = (connection: ConnectionContext, timeoutMs: number, idempotencyKey = 'delivery-1') => ({ ...connection, idempotencyKey, timeoutMs, http: httpClient, ...memoryStores() });
  const deliver = (config: Record<string, unknown> = {}, secrets: Record<string, string> = {}, timeoutMs = 2000) => send(outboundDelivery(stored, at(context({ url, ...config }, secrets), timeoutMs)));

  it('POSTs a structured CloudEvent with the Idempotency-Key and an HMAC of the exact body', async () => {
    let seen: { headers: http.IncomingHttpHeaders; body: string } | undefined;
    next = (req, res, body) => {
      seen = { headers: req.headers, body };
      res.writeHead(204).end();
    };
    expect(await deliver({}, { signingSecret: 'out-secret' })).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(seen!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(seen!.headers['idempotency-key']).toBe('delivery-1');
    expect(seen!.body).toBe(stored.eventJson); // the stored text itself, not a re-serialisation
    expect(JSON.parse(seen!.body)).toEqual(event);
    expect(seen!.headers['ce-id']).toBe('m1');
    expect(seen!.headers['ce-type']).toBe('order.created');
    expect(seen!.headers['x-omnihub-signature']).toBe(`sha256=${createHmac('sha256', 'out-secret').update(seen!.body).digest('hex')}`);
  });

  const answers: Array<[number, Record<string, string>, object]> = [
    [400, {}, { outcome: 'reject', reason: 'DESTINATION_REJECTED', httpStatus: 400 }],
    [401, {}, { outcome: 'reject', reason: 'AUTH_FAILED', httpStatus: 401 }],
    [409, {}, { outcome: 'reject', reason: 'DESTINATION_REJECTED' }],
    [408, {}, { outcome: 'retry', reason: 'TIMEOUT' }],
    [429, { 'retry-after': '7' }, { outcome: 'retry', reason: 'RATE_LIMITED', retryAfterMs: 7000 }],
    [500, {}, { outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE' }],
    [503, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }, { outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', retryAfterMs: 0 }],
  ];
  it.each(answers)('classifies HTTP %i', async (status, headers, expected) => {
    next = (_req, res) => res.writeHead(status, headers).end('{"message":"vendor says no"}');
    const outcome = await deliver();
    expect(outcome).toMatchObject(expected);
    if (outcome.outcome !== 'delivered') expect(outcome.message).toContain('vendor says no');
  });

  it('classifies a slow destination as TIMEOUT and a closed port as NETWORK_ERROR', async () => {
    next = (_req, res) => setTimeout(() => res.writeHead(200).end(), 500);
    expect(await deliver({}, {}, 100)).toMatchObject({ outcome: 'retry', reason: 'TIMEOUT' });
    const closed = await send(outboundDelivery(stored, at(context({ url: 'http://127.0.0.1:9/x' }), 1000, 'k')));
    expect(closed).toMatchObject({ outcome: 'retry', reason: 'NETWORK_ERROR' });
  });
});

describe('outboundDelivery', () => {
  it('parses the stored event only when a connector reads it, and once', () => {
    const eventJson = '{"specversion":"1.0","id":"m9","type":"order.created","data":{"orderNumber":"#9"}}';
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const delivery = outboundDelivery({ eventJson, eventId: 'm9', eventType: 'order.created' }, { ...context({}), idempotencyKey: 'd9', timeoutMs: 1000, http: testHttpClient(), ...memoryStores() });
      expect(delivery.eventJson).toBe(eventJson);
      expect(parse).not.toHaveBeenCalled();
      expect(delivery.event.data).toEqual({ orderNumber: '#9' });
      expect(delivery.event).toBe(delivery.event);
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });
});
