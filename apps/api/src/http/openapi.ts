import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', example: 'SIGNATURE_INVALID' },
        message: { type: 'string' },
        details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
};

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
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An Omnihub API key' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
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
        '401': { description: 'SIGNATURE_INVALID; nothing stored', content: { 'application/json': { schema: ERROR_SCHEMA } } },
        '404': { description: 'Unknown connection', content: { 'application/json': { schema: ERROR_SCHEMA } } },
        '413': { description: 'PAYLOAD_TOO_LARGE', content: { 'application/json': { schema: ERROR_SCHEMA } } },
      },
    },
  };
  SwaggerModule.setup('docs', app, document);
  return document;
}

/** A request-body JSON Schema (the one ajv validates with) as an OpenAPI schema object. */
export function bodySchema(schema: object): SchemaObject {
  return schema as SchemaObject;
}
