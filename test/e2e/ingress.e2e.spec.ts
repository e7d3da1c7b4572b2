import { randomUUID } from 'node:crypto';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { SIGNING_SECRET, canonicalOrder, createSource, sign } from '../support/fixtures';

describe('webhook ingress contract', () => {
  let hub: TestHub;
  let source: { id: string; webhookUrl: string };

  beforeAll(async () => {
    hub = await startHub({ HUB_MAX_BODY_BYTES: '65536' });
    await resetDatabase(hub.dataSource);
    source = await createSource(hub);
  });
  afterAll(() => hub.close());

  const countMessages = async () => Number((await hub.dataSource.query('SELECT COUNT(*) AS n FROM messages'))[0].n);

  it('answers 401 SIGNATURE_INVALID to a wrong signature and stores nothing', async () => {
    const before = await countMessages();
    const body = JSON.stringify(canonicalOrder());
    const res = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', sign(body, 'not-the-secret')).send(body);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringContaining('signature') });
    expect(JSON.stringify(res.body)).not.toContain(SIGNING_SECRET);
    expect(await countMessages()).toBe(before);
  });

  it('answers 401, not 500, to a signature of the wrong length or a missing one', async () => {
    const body = JSON.stringify(canonicalOrder());
    const short = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', 'sha256=abc').send(body);
    expect(short.status).toBe(401);
    expect(short.body.error.code).toBe('SIGNATURE_INVALID');
    const missing = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').send(body);
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toContain('x-signature');
  });

  it('answers 404 for an unknown connection', async () => {
    const res = await hub.http.post(`/webhooks/${randomUUID()}`).set('content-type', 'application/json').send('{}');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('answers 413 PAYLOAD_TOO_LARGE to a body over the limit and stores nothing', async () => {
    const before = await countMessages();
    const body = JSON.stringify({ padding: 'x'.repeat(70000) });
    const res = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', sign(body)).send(body);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await countMessages()).toBe(before);
  });

  it('accepts an authentic but malformed body with 202 and dead-letters it as INVALID_PAYLOAD', async () => {
    const body = '{"orderNumber": "#1", "lines": [';
    const res = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', sign(body)).set('x-event-type', 'order.created').send(body);
    expect(res.status).toBe(202);
    const deadLetter = await waitFor(async () => {
      const list = await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`);
      return list.body.items.find((d: { messageId: string; details: Array<{ path: string }> }) => d.messageId === res.body.messageId);
    }, 'the dead letter');
    expect(deadLetter).toMatchObject({ stage: 'transform', reasonCode: 'INVALID_PAYLOAD', status: 'open' });
    // Where it broke: the body ends inside the array.
    expect(deadLetter.details[0].path).toBe(`@${body.length}`);
    const message = await hub.admin.get(`/api/messages/${res.body.messageId}`);
    expect(message.body).toMatchObject({ status: 'dead_lettered', rawBody: body, reasonCode: 'INVALID_PAYLOAD' });
  });

  it('dead-letters a body nested deeper than the limit as INVALID_PAYLOAD', async () => {
    const body = `${'['.repeat(200)}${']'.repeat(200)}`;
    const res = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', sign(body)).set('x-event-type', 'order.created').send(body);
    expect(res.status).toBe(202);
    const message = await waitFor(async () => {
      const m = await hub.admin.get(`/api/messages/${res.body.messageId}`);
      return m.body.status === 'dead_lettered' ? m.body : undefined;
    }, 'dead letter');
    expect(message.error).toContain('depth');
  });

  it('accepts any content type and verifies the exact bytes', async () => {
    const body = '{ "spaced" :  true }\n';
    const res = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'text/plain').set('x-signature', sign(body)).send(body);
    expect(res.status).toBe(202);
    const message = await hub.admin.get(`/api/messages/${res.body.messageId}`);
    expect(message.body.rawBody).toBe(body);
    expect(message.body.headers['x-signature']).toBe(sign(body));
  });
});
