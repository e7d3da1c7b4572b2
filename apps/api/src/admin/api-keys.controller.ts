import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { API_ROLES, ApiKeyEntity, ApiRole } from '@omnihub/persistence';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { ApiKeysService } from '../auth/api-keys.service';
import { ApiErrors, bodySchema } from '../http/openapi';
import { validateAgainst } from '../http/validate-body';
import { API_KEY_CREATED, API_KEY_LIST } from './api-schemas';
import { AuditService } from './audit.service';

const CREATE_SCHEMA = {
  type: 'object',
  required: ['name', 'role'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, role: { enum: [...API_ROLES] } },
};

const view = (k: ApiKeyEntity) => ({ id: k.id, name: k.name, role: k.role, createdAt: k.createdAt });

/** API keys for people and systems; admin only. A key's plaintext is shown once, when it is created. */
@ApiTags('api-keys')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Requires('administer')
@Controller('api/keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  @ApiBody({ schema: bodySchema(CREATE_SCHEMA) })
  @ApiCreatedResponse({ schema: API_KEY_CREATED })
  @ApiErrors(400)
  async create(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ name: string; role: ApiRole }>(CREATE_SCHEMA, body, 'API key');
    const { entity, key } = await this.keys.create(input.name, input.role);
    await this.audit.record(request, 'api-key.create', 'api-key', entity.id, { name: entity.name, role: entity.role });
    return { ...view(entity), key };
  }

  @ApiOkResponse({ schema: API_KEY_LIST })
  @Get()
  async list() {
    return { items: (await this.keys.list()).map(view) };
  }

  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors(404, 409)
  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id') id: string, @Req() request: AuthenticatedRequest) {
    await this.keys.revoke(id);
    await this.audit.record(request, 'api-key.revoke', 'api-key', id);
  }
}
