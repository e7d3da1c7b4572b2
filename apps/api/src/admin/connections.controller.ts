import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, bodySchema } from '../http/openapi';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DestinationPolicy, HubError } from '@omnihub/core';
import { ConnectorRegistry, calledUrlProperties, pollerOf } from '@omnihub/connector-sdk';
import { CircuitStore, QueueService } from '@omnihub/queueing';
import { ConnectionEntity, ConnectionStore, ConnectorStateStore, DEFAULT_DELIVERY_SETTINGS, POLL_CURSOR_KEY, DeliverySettings, RouteEntity, RouteStore } from '@omnihub/persistence';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { validateAgainst } from '../http/validate-body';
import { IngressService } from '../ingress/ingress.service';
import { CONNECTION, CONNECTION_LIST, POLL_QUEUED, POLL_STATE } from './api-schemas';
import { AuditService } from './audit.service';

interface ConnectionBody {
  connector: string;
  name: string;
  config?: Record<string, unknown>;
  secrets?: Record<string, string>;
  delivery?: Partial<DeliverySettings>;
}

const DELIVERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
    backoffMs: { type: 'integer', minimum: 1, maximum: 3600000 },
    maxBackoffMs: { type: 'integer', minimum: 1, maximum: 86400000 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 300000 },
    concurrency: { type: 'integer', minimum: 1, maximum: 1000 },
    ratePerSecond: { type: 'integer', minimum: 0, maximum: 100000 },
    paused: { type: 'boolean' },
    circuitFailureRatePercent: { type: 'integer', minimum: 1, maximum: 100 },
    circuitMinimumCalls: { type: 'integer', minimum: 0, maximum: 100000 },
    circuitWindowMs: { type: 'integer', minimum: 1000, maximum: 3600000 },
    circuitOpenMs: { type: 'integer', minimum: 100, maximum: 3600000 },
    circuitMaxOpenMs: { type: 'integer', minimum: 100, maximum: 86400000 },
    circuitMaxHoldMs: { type: 'integer', minimum: 1000, maximum: 30 * 86400000 },
  },
};
const CREATE_SCHEMA = {
  type: 'object',
  required: ['connector', 'name'],
  additionalProperties: false,
  properties: {
    connector: { type: 'string', minLength: 1 },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    config: { type: 'object' },
    secrets: { type: 'object', additionalProperties: { type: 'string' } },
    delivery: DELIVERY_SCHEMA,
  },
};
const PATCH_SCHEMA = { ...CREATE_SCHEMA, required: [] };

/** Connections: one configured account of one connector. Secrets are write-only. */
@ApiTags('connections')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/connections')
export class ConnectionsController {
  constructor(
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
    @InjectRepository(RouteEntity) private readonly routes: Repository<RouteEntity>,
    private readonly store: ConnectionStore,
    private readonly circuits: CircuitStore,
    private readonly routeStore: RouteStore,
    private readonly registry: ConnectorRegistry,
    private readonly ingress: IngressService,
    private readonly audit: AuditService,
    private readonly destinations: DestinationPolicy,
    private readonly queues: QueueService,
    private readonly connectorState: ConnectorStateStore,
  ) {}

  @ApiBody({ schema: bodySchema(CREATE_SCHEMA) })
  @ApiCreatedResponse({ schema: CONNECTION })
  @ApiErrors(400)
  @Post()
  @Requires('configure')
  async create(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<ConnectionBody>(CREATE_SCHEMA, body, 'connection');
    const { config, secrets } = this.checkAgainstManifest(input.connector, input.config ?? {}, input.secrets ?? {});
    const now = new Date();
    const entity = this.connections.create({
      id: randomUUID(),
      connector: input.connector,
      name: input.name,
      config,
      secretsCiphertext: this.store.secretBox.seal(secrets),
      delivery: { ...DEFAULT_DELIVERY_SETTINGS, ...input.delivery },
      createdAt: now,
      updatedAt: now,
    });
    await this.connections.insert(entity);
    this.store.invalidate();
    await this.audit.record(request, 'connection.create', 'connection', entity.id, { connector: entity.connector, name: entity.name, secretKeys: Object.keys(secrets) });
    return this.view(entity);
  }

  @ApiOkResponse({ schema: CONNECTION_LIST })
  @Get()
  async list() {
    const entities = await this.connections.find({ order: { createdAt: 'ASC' } });
    const circuits = await this.circuits.snapshots(entities.map((c) => c.id));
    return { items: entities.map((c, i) => ({ ...this.view(c), circuit: circuits[i] })) };
  }

  /** One connection; for a destination also its circuit breaker (null while closed). */
  @ApiOkResponse({ schema: CONNECTION })
  @ApiErrors(404)
  @Get(':id')
  async get(@Param('id') id: string) {
    const entity = await this.find(id);
    const [circuit] = await this.circuits.snapshots([id]);
    return { ...this.view(entity), circuit };
  }

  @ApiBody({ schema: bodySchema(PATCH_SCHEMA) })
  @ApiOkResponse({ schema: CONNECTION })
  @ApiErrors(400, 404, 409)
  @Patch(':id')
  @Requires('configure')
  async update(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<Partial<ConnectionBody>>(PATCH_SCHEMA, body, 'connection');
    const entity = await this.find(id);
    if (input.connector && input.connector !== entity.connector) throw HubError.validation('a connection cannot change its connector', [{ path: '/connector', message: 'is fixed at creation' }]);
    // Secrets merge key by key, so changing one never requires re-sending (or knowing) the others.
    let stored: Record<string, string>;
    try {
      stored = this.store.secretBox.open(entity.secretsCiphertext);
    } catch {
      // Unreadable under the current HUB_SECRET_KEY: only a full set of new secrets can repair it.
      if (!input.secrets) throw HubError.conflict(`the secrets of connection ${id} cannot be decrypted; send all of its secrets to replace them`);
      stored = {};
    }
    const mergedSecrets = { ...stored, ...input.secrets };
    const { config, secrets } = this.checkAgainstManifest(entity.connector, input.config ?? entity.config, mergedSecrets);
    entity.name = input.name ?? entity.name;
    entity.config = config;
    entity.secretsCiphertext = this.store.secretBox.seal(secrets);
    entity.delivery = { ...entity.delivery, ...input.delivery };
    entity.updatedAt = new Date();
    await this.connections.save(entity);
    this.store.invalidate();
    await this.audit.record(request, 'connection.update', 'connection', id, { fields: Object.keys(input), secretKeys: Object.keys(input.secrets ?? {}) });
    return this.view(entity);
  }

  /** A polled connection's schedule and cursor, for a support engineer asking "is it polling, and from where?". */
  @ApiOkResponse({ schema: POLL_STATE })
  @ApiErrors(404, 409)
  @Get(':id/poll')
  async pollState(@Param('id') id: string) {
    const live = await this.polled(id);
    const intervalMs = pollerOf(this.registry, live)?.intervalMs ?? null;
    return { intervalMs, cursor: (await this.connectorState.forConnection(id).get(POLL_CURSOR_KEY)) ?? null };
  }

  /** Polls the connection now (a support engineer who fixed its credentials need not wait for the schedule). */
  @ApiOkResponse({ schema: POLL_QUEUED })
  @ApiErrors(404, 409)
  @Post(':id/poll')
  @Requires('operate')
  @HttpCode(202)
  async pollNow(@Param('id') id: string, @Req() request: AuthenticatedRequest) {
    const live = await this.polled(id);
    if (live.delivery.paused) throw HubError.conflict(`connection ${id} is paused; resume it to poll`);
    const queued = await this.queues.enqueuePoll(id);
    await this.audit.record(request, 'connection.poll', 'connection', id, { queued });
    return { queued };
  }

  private async polled(id: string) {
    const live = await this.store.get(id);
    if (!live) throw HubError.notFound('connection', id);
    if (!this.registry.get(live.connector)?.module.poller) throw HubError.conflict(`connection ${id} (${live.connector}) is not polled`);
    return live;
  }

  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(404, 409)
  @Delete(':id')
  @Requires('configure')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() request: AuthenticatedRequest) {
    await this.find(id);
    const inUse = await this.routes.count({ where: [{ sourceConnectionId: id }, { destinationConnectionId: id }] });
    if (inUse > 0) throw HubError.conflict(`connection ${id} is used by ${inUse} route(s); delete those first`);
    await this.connections.delete({ id });
    this.store.invalidate();
    this.routeStore.invalidate();
    await this.audit.record(request, 'connection.delete', 'connection', id);
  }

  private async find(id: string): Promise<ConnectionEntity> {
    const entity = await this.connections.findOneBy({ id });
    if (!entity) throw HubError.notFound('connection', id);
    return entity;
  }

  private checkAgainstManifest(connectorId: string, config: Record<string, unknown>, secrets: Record<string, string>) {
    const connector = this.registry.get(connectorId);
    if (!connector) {
      throw HubError.validation(`unknown connector "${connectorId}"`, [{ path: '/connector', message: `must be one of ${this.registry.list().map((c) => c.manifest.id).join(', ')}` }]);
    }
    validateAgainst(connector.manifest.config, config, 'config', '/config');
    this.checkCalledUrls(connector.manifest.config, config);
    validateAgainst(connector.manifest.secrets, secrets, 'secrets', '/secrets');
    return { config, secrets };
  }

  /**
   * A URL the hub would call is refused now when its host alone says it may not be called (an IP
   * literal, a loopback or metadata name); a host name is judged again by its addresses at every connect.
   */
  private checkCalledUrls(schema: Record<string, unknown>, config: Record<string, unknown>): void {
    const details = calledUrlProperties(schema).flatMap((name) => {
      const value = config[name];
      const refusal = typeof value === 'string' && URL.canParse(value) ? this.destinations.refusalOfHost(new URL(value).hostname) : undefined;
      return refusal ? [{ path: `/config/${name}`, message: refusal }] : [];
    });
    if (details.length > 0) throw HubError.validation(`config is invalid: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);
  }

  private view(entity: ConnectionEntity) {
    const connector = this.registry.get(entity.connector);
    // One unreadable connection (HUB_SECRET_KEY changed) must not break listing the others.
    let secretKeys: string[] | null;
    try {
      secretKeys = Object.keys(this.store.secretBox.open(entity.secretsCiphertext));
    } catch {
      secretKeys = null;
    }
    return {
      id: entity.id,
      connector: entity.connector,
      name: entity.name,
      config: entity.config,
      secrets: secretKeys ? Object.fromEntries(secretKeys.map((key) => [key, '***'])) : null,
      secretsReadable: secretKeys !== null,
      delivery: { ...DEFAULT_DELIVERY_SETTINGS, ...entity.delivery },
      webhookUrl: connector?.module.inbound && connector.module.inbound.webhooks !== false ? this.ingress.webhookUrl(entity.id) : null,
      createdAt: entity.createdAt,
      updatedAt: entity.updatedAt,
    };
  }
}
