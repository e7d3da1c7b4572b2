import { applyDecorators } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiQuery, ApiResponse, DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ReferenceObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/**
 * Response schemas by component name. Controllers name theirs with `namedSchema` when their module
 * loads (decorators run then), before the document is built; `mountOpenApi` adds them all.
 */
const NAMED_SCHEMAS = new Map<string, object>();

/** A response schema under `#/components/schemas/<name>`, so client generators give it a type of its own. */
export function namedSchema(name: string, schema: object): ReferenceObject {
  if (NAMED_SCHEMAS.has(name) && NAMED_SCHEMAS.get(name) !== schema) throw new Error(`OpenAPI schema ${name} is defined twice`);
  NAMED_SCHEMAS.set(name, schema);
  return { $ref: `#/components/schemas/${name}` };
}

/** The one error shape of every endpoint (error-body.ts). */
const ERROR = namedSchema('Error', {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', description: 'A reason code or an API error code (VALIDATION_FAILED, NOT_FOUND, CONFLICT, ...)', example: 'VALIDATION_FAILED' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string', description: 'JSON Pointer into the body, or /<query parameter>', example: '/filter/reasonCode' }, message: { type: 'string' } } },
        },
      },
    },
  },
});

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'VALIDATION_FAILED (or a reason code such as SCHEMA_VIOLATION); `details` names each path',
  401: 'UNAUTHORIZED: no API key, or not a valid one',
  403: "FORBIDDEN: the key's role may not do this",
  404: 'NOT_FOUND',
  409: "CONFLICT: the resource's state does not allow it",
  413: 'PAYLOAD_TOO_LARGE',
};

/** Error responses of an operation (or of every operation of a controller), all with the Error body. */
export function ApiErrors(...statuses: Array<400 | 401 | 403 | 404 | 409>): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERROR_DESCRIPTIONS[status], schema: ERROR })));
}

/** Query parameters from a JSON Schema of the query object: one source for their names, types and enums. */
export function ApiQueryParams(schema: { properties: Record<string, object>; required?: string[] }): MethodDecorator {
  return applyDecorators(
    ...Object.entries(schema.properties).map(([name, property]) => {
      const { description, ...rest } = toOpenApi30(property) as SchemaObject;
      return ApiQuery({ name, required: schema.required?.includes(name) ?? false, description, schema: rest });
    }),
  );
}

/**
 * OpenAPI at /docs (UI) and /docs-json. The admin endpoints describe themselves through the same
 * JSON Schemas that validate their bodies; the webhook route is a raw Fastify route, so it is
 * described here.
 */
export function mountOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Omnihub')
    .setDescription('Integration hub for omnichannel retail: webhook ingress, admin API, health and metrics.')
    .setVersion('1')
    // An opaque API key sent as `Authorization: Bearer <key>`: an http bearer scheme is what that is on
    // the wire, and generators and Swagger UI add the "Bearer " prefix themselves (an apiKey scheme
    // named Authorization would make every client put it in by hand). No bearerFormat: it is not a JWT
    // (addBearerAuth would say it is).
    .addSecurity('bearer', { type: 'http', scheme: 'bearer', description: 'An Omnihub API key (POST /api/keys, or HUB_ADMIN_API_KEY), sent as `Authorization: Bearer <key>`' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...Object.fromEntries([...NAMED_SCHEMAS].map(([name, schema]) => [name, toOpenApi30(schema)])) } };
  // Every operation that takes the API key answers 401 without a valid one (ApiKeyGuard).
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.get, item.put, item.post, item.patch, item.delete]) {
      if (operation?.security?.some((requirement) => 'bearer' in requirement)) operation.responses['401'] ??= { description: ERROR_DESCRIPTIONS[401]!, content: { 'application/json': { schema: ERROR } } };
    }
  }
  document.paths['/webhooks/{connectionId}'] = {
    post: {
      tags: ['ingress'],
      summary: 'Receive a vendor webhook',
      description: 'Verifies the signature over the raw bytes, stores the message durably, then answers. Any content type is accepted as bytes.',
      parameters: [{ name: 'connectionId', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      responses: {
        '202': { description: 'Accepted and committed', content: { 'application/json': { schema: { type: 'object', properties: { messageId: { type: 'string' }, status: { enum: ['accepted'] } } } } } },
        '200': { description: 'A repeated vendor delivery id: the first message', content: { 'application/json': { schema: { type: 'object', properties: { messageId: { type: 'string' }, status: { enum: ['duplicate'] } } } } } },
        '401': { description: 'SIGNATURE_INVALID; nothing stored', content: { 'application/json': { schema: ERROR } } },
        '404': { description: 'Unknown connection', content: { 'application/json': { schema: ERROR } } },
        '413': { description: 'PAYLOAD_TOO_LARGE', content: { 'application/json': { schema: ERROR } } },
      },
    },
  };
  SwaggerModule.setup('docs', app, document);
  return document;
}

/** A request-body JSON Schema (the one ajv validates with) as an OpenAPI schema object. */
export function bodySchema(schema: object): SchemaObject {
  return toOpenApi30(schema) as SchemaObject;
}

type Json = Record<string, unknown>;
const SUBSCHEMA_KEYS = ['items', 'additionalProperties', 'not'] as const;
const SUBSCHEMA_LIST_KEYS = ['allOf', 'anyOf', 'oneOf'] as const;

/**
 * A copy of a JSON Schema (draft 7 / 2020-12, as ajv reads it) in the OpenAPI 3.0 schema dialect,
 * which most client generators still read best: `type: [T, "null"]` and a null in `enum` become
 * `nullable`, several types become `anyOf`, `const` an enum of one, an empty `required` goes, numeric
 * `exclusiveMinimum`/`Maximum` become the boolean forms, an enum of strings says `type: string`, and
 * `$schema`, `$id`, `$comment` go. The ajv schema itself is never changed.
 */
export function toOpenApi30(schema: object): object {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const { $schema: _s, $id: _i, $comment: _c, const: constant, examples, ...rest } = schema as Json;
  const out: Json = { ...rest };
  if (constant !== undefined) out.enum = [constant];
  if (Array.isArray(examples) && examples.length > 0 && out.example === undefined) out.example = examples[0];
  if (Array.isArray(out.type)) {
    const types = (out.type as string[]).filter((t) => t !== 'null');
    if (types.length < (out.type as string[]).length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else {
      delete out.type;
      out.anyOf = types.map((type) => ({ type }));
    }
  }
  if (Array.isArray(out.enum)) {
    if (out.enum.includes(null)) out.nullable = true;
    const kinds = new Set(out.enum.filter((v) => v !== null).map((v) => typeof v));
    if (out.type === undefined && kinds.size === 1) {
      const [kind] = kinds;
      if (kind === 'string' || kind === 'boolean') out.type = kind;
      else if (kind === 'number') out.type = out.enum.every((v) => v === null || Number.isInteger(v)) ? 'integer' : 'number';
    }
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  for (const [bound, inclusive] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof out[bound] === 'number') {
      out[inclusive] = out[bound];
      out[bound] = true;
    }
  }
  if (out.properties && typeof out.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(out.properties as Json).map(([name, property]) => [name, toOpenApi30(property as object)]));
  }
  for (const key of SUBSCHEMA_KEYS) if (out[key] && typeof out[key] === 'object') out[key] = toOpenApi30(out[key] as object);
  for (const key of SUBSCHEMA_LIST_KEYS) if (Array.isArray(out[key])) out[key] = (out[key] as object[]).map(toOpenApi30);
  return out;
}
