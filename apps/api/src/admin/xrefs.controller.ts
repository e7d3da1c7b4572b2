import { Body, Controller, Get, Put, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HubError } from '@omnihub/core';
import { ConnectionEntity, CrossReferenceStore } from '@omnihub/persistence';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { ApiErrors, ApiQueryParams, bodySchema } from '../http/openapi';
import { validateAgainst } from '../http/validate-body';
import { XREF, XREF_LIST } from './api-schemas';
import { AuditService } from './audit.service';

interface XrefBody {
  system: string;
  entityType: string;
  key: string;
  externalId: string;
}

const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max });
const PUT_SCHEMA = {
  type: 'object',
  required: ['system', 'entityType', 'key', 'externalId'],
  additionalProperties: false,
  properties: { system: text(36), entityType: text(60), key: text(200), externalId: text(200) },
};

/**
 * Cross-references: what a system (a connection) calls the things the hub knows by canonical keys
 * (SKUs, location codes). Connectors write them as vendors answer; integrators set the ones no
 * vendor can tell, such as which Shopify location is the store code a POS reports.
 */
@ApiTags('xrefs')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/xrefs')
export class XrefsController {
  constructor(
    private readonly xrefs: CrossReferenceStore,
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
    private readonly audit: AuditService,
  ) {}

  @ApiQueryParams({
    properties: { system: { type: 'string', description: 'Connection id' }, entityType: { type: 'string' }, key: { type: 'string', description: 'Canonical key (SKU, location code)' }, externalId: { type: 'string' } },
  })
  @ApiOkResponse({ schema: XREF_LIST, description: 'At most 100' })
  @Get()
  async list(@Query() query: Record<string, string | undefined>) {
    return { items: await this.xrefs.find({ system: query.system, entityType: query.entityType, key: query.key, externalId: query.externalId }) };
  }

  @ApiBody({ schema: bodySchema(PUT_SCHEMA) })
  @ApiOkResponse({ schema: XREF })
  @ApiErrors(400)
  @Put()
  @Requires('configure')
  async put(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<XrefBody>(PUT_SCHEMA, body, 'cross-reference');
    if (!(await this.connections.existsBy({ id: input.system }))) {
      throw HubError.validation('system must be a connection id', [{ path: '/system', message: `no connection ${input.system}` }]);
    }
    await this.xrefs.remember(input.system, input.entityType, input.key, input.externalId);
    await this.audit.record(request, 'xref.put', 'connection', input.system, { entityType: input.entityType, key: input.key });
    const [saved] = await this.xrefs.find({ system: input.system, entityType: input.entityType, key: input.key });
    return saved;
  }
}
