import { Body, Controller, Get, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, bodySchema } from '../http/openapi';
import { EVENT_TYPES, HubError } from '@omnihub/core';
import { CanonicalTransformer, CompiledMapping, MappingCatalog } from '@omnihub/mapping';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { validateAgainst } from '../http/validate-body';
import { MAPPING_LIST, MAPPING_PUBLISHED, MAPPING_TEST_RESULT, MAPPING_VERSION_LIST } from './api-schemas';
import { AuditService } from './audit.service';

const PUBLISH_SCHEMA = {
  type: 'object',
  required: ['expression'],
  additionalProperties: false,
  properties: { expression: { type: 'string', minLength: 1 }, targetEventType: { enum: [...EVENT_TYPES, null] } },
};
const TEST_SCHEMA = {
  type: 'object',
  oneOf: [{ required: ['payload'] }, { required: ['rawPayload'] }],
  additionalProperties: false,
  properties: {
    mappingId: { type: 'string' },
    expression: { type: 'string' },
    eventType: { enum: [...EVENT_TYPES] },
    payload: {},
    /** The payload as raw text, parsed as vendor bodies are (no lost digits). */
    rawPayload: { type: 'string' },
  },
};

/**
 * Mapping ids contain a slash (`<connector>/<name>`); clients URL-encode it (`shopify%2Forders-create`).
 */
@ApiTags('mappings')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/mappings')
export class MappingsController {
  constructor(
    private readonly catalog: MappingCatalog,
    private readonly transformer: CanonicalTransformer,
    private readonly audit: AuditService,
  ) {}

  @ApiOkResponse({ schema: MAPPING_LIST })
  @Get()
  async list() {
    return { items: await this.catalog.list() };
  }

  @ApiOkResponse({ schema: MAPPING_VERSION_LIST, description: 'Newest first' })
  @ApiErrors(404)
  @Get(':id/versions')
  async versions(@Param('id') id: string) {
    const versions = await this.catalog.history(id);
    if (versions.length === 0) throw HubError.notFound('mapping', id);
    return { items: versions.map(({ version, expression, targetEventType, origin, createdAt }) => ({ version, expression, targetEventType, origin, createdAt })) };
  }

  @ApiBody({ schema: bodySchema(PUBLISH_SCHEMA) })
  @ApiCreatedResponse({ schema: MAPPING_PUBLISHED })
  @ApiErrors(400)
  @Post(':id/versions')
  @Requires('configure')
  async publish(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ expression: string; targetEventType?: string | null }>(PUBLISH_SCHEMA, body, 'mapping version');
    if (!/^[a-z0-9-]+\/[a-z0-9._-]+$/.test(id)) throw HubError.validation('mapping id must be <connector>/<name>', [{ path: '/id', message: 'bad mapping id' }]);
    const saved = await this.catalog.publish(id, input.expression, input.targetEventType ?? null);
    await this.audit.record(request, 'mapping.publish', 'mapping', id, { version: saved.version });
    return { id, version: saved.version, targetEventType: saved.targetEventType, createdAt: saved.createdAt };
  }

  /** Dry run: payload in, mapped output and schema errors out. Stores nothing. */
  @ApiBody({ schema: bodySchema(TEST_SCHEMA) })
  @ApiCreatedResponse({ schema: MAPPING_TEST_RESULT })
  @ApiErrors(400, 404)
  @Post('test')
  async test(@Body() body: unknown) {
    const input = validateAgainst<{ mappingId?: string; expression?: string; eventType?: string; payload: unknown; rawPayload?: string }>(TEST_SCHEMA, body, 'mapping test');
    let expression: string;
    let eventType = input.eventType;
    if (input.expression) {
      try {
        CompiledMapping.compile(input.expression);
      } catch (error) {
        throw HubError.validation('the mapping does not compile', [{ path: '/expression', message: (error as Error).message }]);
      }
      expression = input.expression;
    } else if (input.mappingId) {
      const live = await this.catalog.get(input.mappingId);
      if (!live) throw HubError.notFound('mapping', input.mappingId);
      expression = live.expression;
      eventType ??= live.targetEventType ?? undefined;
    } else {
      throw HubError.validation('give a mappingId or an expression', [{ path: '/mappingId', message: 'required without expression' }]);
    }
    // The payload goes through the same lossless parse as a vendor body; rawPayload keeps big ids exact.
    const result = await this.transformer.dryRun(expression, input.rawPayload ?? JSON.stringify(input.payload), eventType);
    // engine: "compiled" when jsonata-compiler runs this expression, "jsonata" when the interpreter does.
    return { eventType: eventType ?? null, output: result.output, valid: result.errors.length === 0, reason: result.reason ?? null, errors: result.errors, engine: result.engine ?? null };
  }
}
