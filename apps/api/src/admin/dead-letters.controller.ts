import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, ApiQueryParams, bodySchema } from '../http/openapi';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ReasonCode } from '@omnihub/core';
import { DeliveryAttemptEntity, DeliveryEntity, MessageEntity } from '@omnihub/persistence';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { validateAgainst } from '../http/validate-body';
import { AuditService } from './audit.service';
import { DeadLetterFilter, DeadLettersService } from './dead-letters.service';
import { BULK_REPLAY_RESULT, DEAD_LETTER, DEAD_LETTER_DETAIL, DEAD_LETTER_LIST } from './api-schemas';
import { LIMIT_PARAM, TIME_RANGE_PARAMS, pageSize, timeRange } from './messages.controller';

const FILTER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  // An unknown reason code or stage is a 400 naming /filter/reasonCode, not a replay of nothing.
  properties: { reasonCode: { enum: Object.values(ReasonCode) }, fingerprint: { type: 'string', pattern: '^[0-9a-f]{16}$' }, connectionId: { type: 'string' }, stage: { enum: ['transform', 'deliver'] } },
};
const BULK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['ids'] }, { required: ['filter'] }],
  properties: { ids: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'string' } }, filter: FILTER_SCHEMA },
};
const REPLAY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payload: {},
    refetch: { type: 'boolean', description: "Transform dead letters: call the connector's resolve stage again instead of mapping what it fetched before (after fixing a cross-reference, say)." },
  },
};
const LIST_QUERY = {
  type: 'object',
  properties: {
    status: { enum: ['open', 'replayed', 'discarded'], default: 'open' },
    ...FILTER_SCHEMA.properties,
    ...TIME_RANGE_PARAMS,
    ...LIMIT_PARAM,
  },
};
const DISCARD_SCHEMA = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } };

@ApiTags('dead-letters')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/dead-letters')
export class DeadLettersController {
  constructor(
    private readonly service: DeadLettersService,
    private readonly audit: AuditService,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    @InjectRepository(DeliveryAttemptEntity) private readonly attempts: Repository<DeliveryAttemptEntity>,
  ) {}

  @ApiQueryParams(LIST_QUERY)
  @ApiOkResponse({ schema: DEAD_LETTER_LIST, description: 'Newest first' })
  @ApiErrors(400)
  @Get()
  async list(@Query() query: Record<string, string | undefined>) {
    const where = { ...this.service.where({ status: query.status ?? 'open', ...query } as DeadLetterFilter) };
    const created = timeRange(query.from, query.to);
    const rows = await this.service.deadLetters.find({ where: created ? { ...where, createdAt: created } : where, order: { createdAt: 'DESC' }, take: pageSize(query.limit) });
    return { items: rows };
  }

  @ApiOkResponse({ schema: DEAD_LETTER_DETAIL, description: 'With its message, and its delivery with every attempt' })
  @ApiErrors(404)
  @Get(':id')
  async get(@Param('id') id: string) {
    const deadLetter = await this.service.find(id);
    const message = await this.messages.findOneBy({ id: deadLetter.messageId });
    const delivery = deadLetter.deliveryId ? await this.deliveries.findOneBy({ id: deadLetter.deliveryId }) : null;
    const attempts = delivery ? await this.attempts.find({ where: { deliveryId: In([delivery.id]) }, order: { attemptNumber: 'ASC' } }) : [];
    return { ...deadLetter, message, delivery: delivery && { ...delivery, attempts } };
  }

  @ApiBody({ schema: bodySchema(BULK_SCHEMA) })
  @ApiAcceptedResponse({ schema: BULK_REPLAY_RESULT })
  @ApiErrors(400)
  @Post('replay')
  @Requires('operate')
  @HttpCode(202)
  async replayMany(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ ids?: string[]; filter?: DeadLetterFilter }>(BULK_SCHEMA, body, 'bulk replay');
    const result = await this.service.replayMany(input.ids, input.filter);
    await this.audit.record(request, 'dead-letter.replay-bulk', 'dead-letter', '*', { ids: input.ids?.length ?? null, filter: input.filter ?? null, queued: result.queued });
    return result;
  }

  @ApiBody({ schema: bodySchema(REPLAY_SCHEMA) })
  @ApiAcceptedResponse({ schema: DEAD_LETTER, description: 'Replayed: back at the start of its stage' })
  @ApiErrors(400, 404, 409)
  @Post(':id/replay')
  @Requires('operate')
  @HttpCode(202)
  async replay(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ payload?: unknown; refetch?: boolean }>(REPLAY_SCHEMA, body ?? {}, 'replay');
    const result = await this.service.replay(id, input.payload, { refetch: input.refetch === true });
    await this.audit.record(request, 'dead-letter.replay', 'dead-letter', id, { edited: input.payload !== undefined, refetch: input.refetch === true });
    return result;
  }

  @ApiBody({ schema: bodySchema(DISCARD_SCHEMA) })
  @ApiOkResponse({ schema: DEAD_LETTER })
  @ApiErrors(400, 404, 409)
  @Post(':id/discard')
  @Requires('operate')
  @HttpCode(200)
  async discard(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ reason: string }>(DISCARD_SCHEMA, body, 'discard');
    const result = await this.service.discard(id, input.reason);
    await this.audit.record(request, 'dead-letter.discard', 'dead-letter', id, { reason: input.reason });
    return result;
  }
}
