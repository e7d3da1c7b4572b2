import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, bodySchema } from '../http/openapi';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { EVENT_TYPES, HubError } from '@omnihub/core';
import { ConnectorRegistry, operationFor } from '@omnihub/connector-sdk';
import { CompiledMapping } from '@omnihub/mapping';
import { ConnectionEntity, RouteEntity, RouteStore } from '@omnihub/persistence';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { validateAgainst } from '../http/validate-body';
import { ROUTE, ROUTE_LIST } from './api-schemas';
import { AuditService } from './audit.service';

interface RouteBody {
  source: { connectionId: string };
  eventTypes: string[];
  filter?: string | null;
  destination: { connectionId: string };
  enabled?: boolean;
}

const ref = { type: 'object', required: ['connectionId'], additionalProperties: false, properties: { connectionId: { type: 'string', minLength: 1 } } };
const CREATE_SCHEMA = {
  type: 'object',
  required: ['source', 'eventTypes', 'destination'],
  additionalProperties: false,
  properties: {
    source: ref,
    eventTypes: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...EVENT_TYPES, '*'] } },
    filter: { type: ['string', 'null'] },
    destination: ref,
    enabled: { type: 'boolean' },
  },
};
const PATCH_SCHEMA = { ...CREATE_SCHEMA, required: [] };

/** Routes: which events from a source connection go to which destination, optionally filtered. */
@ApiTags('routes')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/routes')
export class RoutesController {
  constructor(
    @InjectRepository(RouteEntity) private readonly routes: Repository<RouteEntity>,
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
    private readonly routeStore: RouteStore,
    private readonly registry: ConnectorRegistry,
    private readonly audit: AuditService,
  ) {}

  @ApiBody({ schema: bodySchema(CREATE_SCHEMA) })
  @ApiCreatedResponse({ schema: ROUTE })
  @ApiErrors(400)
  @Post()
  @Requires('configure')
  async create(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<RouteBody>(CREATE_SCHEMA, body, 'route');
    await this.checkReferences(input);
    const now = new Date();
    const entity = this.routes.create({
      id: randomUUID(),
      sourceConnectionId: input.source.connectionId,
      eventTypes: input.eventTypes,
      filter: input.filter ?? null,
      destinationConnectionId: input.destination.connectionId,
      enabled: input.enabled ?? true,
      createdAt: now,
      updatedAt: now,
    });
    await this.routes.insert(entity);
    this.routeStore.invalidate();
    await this.audit.record(request, 'route.create', 'route', entity.id, { source: entity.sourceConnectionId, destination: entity.destinationConnectionId });
    return view(entity);
  }

  @ApiOkResponse({ schema: ROUTE_LIST })
  @Get()
  async list() {
    return { items: (await this.routes.find({ order: { createdAt: 'ASC' } })).map(view) };
  }

  @ApiOkResponse({ schema: ROUTE })
  @ApiErrors(404)
  @Get(':id')
  async get(@Param('id') id: string) {
    return view(await this.find(id));
  }

  @ApiBody({ schema: bodySchema(PATCH_SCHEMA) })
  @ApiOkResponse({ schema: ROUTE })
  @ApiErrors(400, 404)
  @Patch(':id')
  @Requires('configure')
  async update(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<Partial<RouteBody>>(PATCH_SCHEMA, body, 'route');
    const entity = await this.find(id);
    const merged: RouteBody = {
      source: input.source ?? { connectionId: entity.sourceConnectionId },
      eventTypes: input.eventTypes ?? entity.eventTypes,
      filter: input.filter === undefined ? entity.filter : input.filter,
      destination: input.destination ?? { connectionId: entity.destinationConnectionId },
      enabled: input.enabled ?? entity.enabled,
    };
    await this.checkReferences(merged);
    Object.assign(entity, {
      sourceConnectionId: merged.source.connectionId,
      eventTypes: merged.eventTypes,
      filter: merged.filter ?? null,
      destinationConnectionId: merged.destination.connectionId,
      enabled: merged.enabled,
      updatedAt: new Date(),
    });
    await this.routes.save(entity);
    this.routeStore.invalidate();
    await this.audit.record(request, 'route.update', 'route', id, { fields: Object.keys(input) });
    return view(entity);
  }

  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(404)
  @Delete(':id')
  @Requires('configure')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() request: AuthenticatedRequest) {
    await this.find(id);
    await this.routes.delete({ id });
    this.routeStore.invalidate();
    await this.audit.record(request, 'route.delete', 'route', id);
  }

  private async find(id: string): Promise<RouteEntity> {
    const entity = await this.routes.findOneBy({ id });
    if (!entity) throw HubError.notFound('route', id);
    return entity;
  }

  private async checkReferences(input: RouteBody): Promise<void> {
    const source = await this.connections.findOneBy({ id: input.source.connectionId });
    if (!source) throw HubError.validation('source connection does not exist', [{ path: '/source/connectionId', message: `no connection ${input.source.connectionId}` }]);
    const destination = await this.connections.findOneBy({ id: input.destination.connectionId });
    if (!destination) throw HubError.validation('destination connection does not exist', [{ path: '/destination/connectionId', message: `no connection ${input.destination.connectionId}` }]);
    const connector = this.registry.get(destination.connector);
    if (!connector?.module.outbound) {
      throw HubError.validation(`connector ${destination.connector} cannot receive deliveries`, [{ path: '/destination/connectionId', message: 'connector has no outbound side' }]);
    }
    // Refused here, not at delivery time: an event type the destination has no operation for would only ever dead-letter.
    const refused = input.eventTypes.flatMap((eventType, i) => {
      const entry = operationFor(connector.manifest, eventType);
      return entry && (eventType !== '*' || entry.eventType === '*') ? [] : [{ path: `/eventTypes/${i}`, message: `${destination.connector} has no outbound operation for ${eventType}` }];
    });
    if (refused.length > 0) {
      const accepted = (connector.manifest.outbound?.operations ?? []).map((o) => o.eventType).join(', ');
      throw HubError.validation(`destination ${destination.name} (${destination.connector}) cannot take ${refused.length === 1 ? 'this event type' : 'these event types'}; it takes ${accepted}`, refused);
    }
    if (input.filter) {
      try {
        CompiledMapping.compile(input.filter);
      } catch (error) {
        throw HubError.validation('filter is not a valid JSONata expression', [{ path: '/filter', message: (error as Error).message }]);
      }
    }
  }
}

function view(entity: RouteEntity) {
  return {
    id: entity.id,
    source: { connectionId: entity.sourceConnectionId },
    eventTypes: entity.eventTypes,
    filter: entity.filter,
    destination: { connectionId: entity.destinationConnectionId },
    enabled: entity.enabled,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
  };
}
