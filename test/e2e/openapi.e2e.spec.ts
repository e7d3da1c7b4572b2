import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { OpenAPIV3 } from 'openapi-types';
import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, routedSource, postWebhook } from '../support/fixtures';

type Operation = OpenAPIV3.OperationObject;
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

describe('OpenAPI document (/docs-json)', () => {
  const ctx = useHubWithSink();
  let document: OpenAPIV3.Document;
  let dereferenced: OpenAPIV3.Document;

  beforeAll(async () => {
    const res = await ctx.hub.http.get('/docs-json');
    expect(res.status).toBe(200);
    document = res.body as OpenAPIV3.Document;
    // The parser resolves $refs in place: give it copies.
    dereferenced = (await SwaggerParser.dereference(structuredClone(document))) as OpenAPIV3.Document;
  });

  const operations = () => Object.entries(document.paths).flatMap(([path, item]) => METHODS.flatMap((method) => (item?.[method] ? [{ path, method, operation: item[method] as Operation }] : [])));

  it('is a valid OpenAPI 3.0 document', async () => {
    expect(document.openapi).toMatch(/^3\.0\./);
    await expect(SwaggerParser.validate(structuredClone(document))).resolves.toBeDefined();
  });

  it('describes the API key as an opaque bearer key, on every admin operation', () => {
    const scheme = document.components!.securitySchemes!.bearer as OpenAPIV3.HttpSecurityScheme;
    expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(scheme.bearerFormat).toBeUndefined();
    expect(JSON.stringify(document.components!.securitySchemes)).not.toContain('JWT');
    const admin = operations().filter((o) => o.path.startsWith('/api/'));
    expect(admin.length).toBeGreaterThan(25);
    for (const { path, method, operation } of admin) {
      expect({ path, method, security: operation.security }).toEqual({ path, method, security: [{ bearer: [] }] });
      expect({ path, method, response401: operation.responses['401'] }).toMatchObject({ path, method, response401: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } });
    }
  });

  it('gives every admin operation a success schema and its error responses the Error schema', () => {
    expect(document.components!.schemas!.Error).toMatchObject({ required: ['error'], properties: { error: { required: ['code', 'message', 'details'] } } });
    for (const { path, method, operation } of operations().filter((o) => o.path.startsWith('/api/'))) {
      for (const [status, response] of Object.entries(operation.responses)) {
        const schema = (response as OpenAPIV3.ResponseObject).content?.['application/json']?.schema;
        if (status === '204') expect({ path, method, schema }).toEqual({ path, method, schema: undefined });
        else if (Number(status) >= 400) expect({ path, method, status, schema }).toEqual({ path, method, status, schema: { $ref: '#/components/schemas/Error' } });
        else expect({ path, method, status, hasSchema: schema !== undefined }).toEqual({ path, method, status, hasSchema: true });
      }
    }
    const responses = (path: string, method: (typeof METHODS)[number]) => Object.keys((document.paths[path]![method] as Operation).responses);
    expect(responses('/api/connections/{id}', 'patch')).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409']));
    expect(responses('/api/connections/{id}', 'get')).not.toContain('403');
    expect(responses('/api/keys', 'get')).toContain('403');
  });

  it('lists the query parameters of the list endpoints', () => {
    const query = (path: string) => ((document.paths[path]!.get as Operation).parameters as OpenAPIV3.ParameterObject[]).filter((p) => p.in === 'query');
    const messages = query('/api/messages');
    expect(messages.map((p) => p.name).sort()).toEqual(['connectionId', 'eventType', 'from', 'limit', 'q', 'status', 'to']);
    expect(messages.every((p) => p.required === false)).toBe(true);
    expect(messages.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(messages.find((p) => p.name === 'from')!.schema).toMatchObject({ type: 'string', format: 'date-time' });
    expect(query('/api/dead-letters').map((p) => p.name)).toEqual(expect.arrayContaining(['status', 'reasonCode', 'fingerprint', 'connectionId', 'stage', 'from', 'to', 'limit']));
    expect(query('/api/dead-letters').find((p) => p.name === 'reasonCode')!.schema).toMatchObject({ type: 'string', enum: expect.arrayContaining(['DESTINATION_REJECTED']) });
    expect(query('/api/stats').map((p) => [p.name, p.required])).toEqual([['from', false], ['to', false]]);
    expect(query('/api/xrefs').map((p) => p.name)).toEqual(['system', 'entityType', 'key', 'externalId']);
  });

  it('translates the request-body schemas to the 3.0 dialect (nullable, no empty required)', () => {
    const body = (path: string, method: 'post' | 'patch') => ((document.paths[path]![method] as Operation).requestBody as OpenAPIV3.RequestBodyObject).content['application/json']!.schema as OpenAPIV3.SchemaObject;
    expect(body('/api/routes', 'post').properties!.filter).toEqual({ type: 'string', nullable: true });
    expect(body('/api/routes/{id}', 'patch').required).toBeUndefined();
    expect(body('/api/connections', 'post').required).toEqual(['connector', 'name']);
    expect((body('/api/dead-letters/replay', 'post').properties!.filter as OpenAPIV3.SchemaObject).properties!.reasonCode).toMatchObject({ type: 'string', enum: expect.arrayContaining(['DESTINATION_REJECTED']) });
  });

  describe('answers match their documented schemas', () => {
    const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
    /** Checks a real answer against the response schema the document gives for it. */
    const conforms = (path: string, method: (typeof METHODS)[number], res: { status: number; body: unknown }) => {
      const response = (dereferenced.paths[path]![method] as Operation).responses[String(res.status)] as OpenAPIV3.ResponseObject | undefined;
      expect({ path, method, status: res.status, documented: response !== undefined }).toEqual({ path, method, status: res.status, documented: true });
      const validate = ajv.compile(response!.content!['application/json']!.schema!);
      expect({ path, method, errors: validate(res.body) ? null : validate.errors }).toEqual({ path, method, errors: null });
    };

    it('for connections, routes, messages, dead letters, replays, stats and keys', async () => {
      const { hub, sink } = ctx;
      sink.fallback = { status: 422 };
      const { source, destination } = await routedSource(hub, sink.url, { delivery: { maxAttempts: 1 } });
      const posted = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder({ orderNumber: '#OPENAPI-1' })));
      expect(posted.status).toBe(202);
      const messageId = posted.body.messageId as string;
      const deadLetter = await waitFor(async () => (await hub.admin.get(`/api/dead-letters?connectionId=${destination.id}`)).body.items[0] as { id: string; deliveryId: string } | undefined, 'dead letter');

      conforms('/api/connections', 'get', await hub.admin.get('/api/connections'));
      conforms('/api/connections/{id}', 'get', await hub.admin.get(`/api/connections/${destination.id}`));
      conforms('/api/connections/{id}', 'get', await hub.admin.get('/api/connections/no-such-connection'));
      conforms('/api/connections/{id}', 'patch', await hub.admin.patch(`/api/connections/${destination.id}`, { name: 'renamed' }));
      conforms('/api/connections', 'post', await hub.admin.post('/api/connections', { connector: 'generic-http' }));
      conforms('/api/connectors', 'get', await hub.admin.get('/api/connectors'));
      const routes = await hub.admin.get('/api/routes');
      conforms('/api/routes', 'get', routes);
      conforms('/api/routes/{id}', 'get', await hub.admin.get(`/api/routes/${routes.body.items[0].id}`));
      conforms('/api/messages', 'get', await hub.admin.get(`/api/messages?connectionId=${source.id}`));
      conforms('/api/messages', 'get', await hub.admin.get('/api/messages?limit=0'));
      conforms('/api/messages/{id}', 'get', await hub.admin.get(`/api/messages/${messageId}`));
      conforms('/api/dead-letters', 'get', await hub.admin.get('/api/dead-letters'));
      conforms('/api/dead-letters/{id}', 'get', await hub.admin.get(`/api/dead-letters/${deadLetter.id}`));
      conforms('/api/stats', 'get', await hub.admin.get('/api/stats'));
      conforms('/api/keys', 'get', await hub.admin.get('/api/keys'));
      conforms('/api/keys', 'post', await hub.admin.post('/api/keys', { name: 'generator', role: 'viewer' }));
      conforms('/api/mappings', 'get', await hub.admin.get('/api/mappings'));
      conforms('/api/xrefs', 'get', await hub.admin.get('/api/xrefs'));
      conforms('/api/keys', 'get', await hub.http.get('/api/keys'));

      sink.fallback = { status: 200 };
      const replayed = await hub.admin.post(`/api/deliveries/${deadLetter.deliveryId}/replay`, {});
      conforms('/api/deliveries/{id}/replay', 'post', replayed);
      expect(replayed.status).toBe(202);
      conforms('/api/dead-letters/{id}/replay', 'post', await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {}));
      conforms('/api/dead-letters/replay', 'post', await hub.admin.post('/api/dead-letters/replay', { filter: { connectionId: destination.id } }));
      await waitFor(async () => (await hub.admin.get(`/api/messages/${messageId}`)).body.status === 'completed', 'delivered after the replay');
    });
  });

  it('refuses (400) a bulk replay whose filter names an unknown reason code or stage', async () => {
    const unknownReason = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { reasonCode: 'NO_SUCH_REASON' } });
    expect(unknownReason.status).toBe(400);
    expect(unknownReason.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: '/filter/reasonCode' })] });
    const unknownStage = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { reasonCode: 'TIMEOUT', stage: 'elsewhere' } });
    expect(unknownStage.status).toBe(400);
    expect(unknownStage.body.error.details).toEqual([expect.objectContaining({ path: '/filter/stage' })]);
    const known = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { reasonCode: 'TIMEOUT' } });
    expect(known.status).toBe(202);
    expect(known.body).toEqual({ queued: 0, skipped: [] });
  });
});
