import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, FindOptionsWhere, In, LessThanOrEqual, Like, MoreThanOrEqual, Repository } from 'typeorm';
import { HubError } from '@omnihub/core';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { DeadLetterEntity, DeliveryAcknowledgementEntity, DeliveryAttemptEntity, DeliveryEntity, MessageEntity, MessageStatus, canonicalEventsOf } from '@omnihub/persistence';
import { ApiErrors, ApiQueryParams } from '../http/openapi';
import { MESSAGE_DETAIL, MESSAGE_LIST } from './api-schemas';

/** A query parameter as a timestamp, or a VALIDATION_FAILED error naming the parameter. */
export function parseTimestamp(value: string, name: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw HubError.validation(`${name} must be an RFC 3339 timestamp`, [{ path: `/${name}`, message: 'invalid date-time' }]);
  return date;
}

export function timeRange(from?: string, to?: string) {
  if (from && to) return Between(parseTimestamp(from, 'from'), parseTimestamp(to, 'to'));
  if (from) return MoreThanOrEqual(parseTimestamp(from, 'from'));
  if (to) return LessThanOrEqual(parseTimestamp(to, 'to'));
  return undefined;
}

export function pageSize(limit?: string): number {
  const n = limit ? Number(limit) : 50;
  if (!Number.isInteger(n) || n < 1 || n > 500) throw HubError.validation('limit must be an integer from 1 to 500', [{ path: '/limit', message: 'out of range' }]);
  return n;
}

/** The query parameters timeRange and pageSize read, as JSON Schema (for the OpenAPI document). */
export const TIME_RANGE_PARAMS = {
  from: { type: 'string', format: 'date-time', description: 'RFC 3339; inclusive' },
  to: { type: 'string', format: 'date-time', description: 'RFC 3339; inclusive' },
};
export const LIMIT_PARAM = { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } };
const LIST_QUERY = {
  type: 'object',
  properties: {
    connectionId: { type: 'string', description: 'The source connection' },
    eventType: { type: 'string' },
    status: { enum: Object.values(MessageStatus) },
    ...TIME_RANGE_PARAMS,
    q: { type: 'string', description: "The vendor's delivery id, or text in the body (an order number, a SKU)" },
    ...LIMIT_PARAM,
  },
};

/** Support engineers' view: find a message, then see everything that happened to it. */
@ApiTags('messages')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/messages')
export class MessagesController {
  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    @InjectRepository(DeliveryAttemptEntity) private readonly attempts: Repository<DeliveryAttemptEntity>,
    @InjectRepository(DeadLetterEntity) private readonly deadLetters: Repository<DeadLetterEntity>,
    @InjectRepository(DeliveryAcknowledgementEntity) private readonly acknowledgements: Repository<DeliveryAcknowledgementEntity>,
  ) {}

  @ApiQueryParams(LIST_QUERY)
  @ApiOkResponse({ schema: MESSAGE_LIST, description: 'Newest first, without bodies' })
  @ApiErrors(400)
  @Get()
  async list(@Query() query: Record<string, string | undefined>) {
    const base: FindOptionsWhere<MessageEntity> = {};
    if (query.connectionId) base.connectionId = query.connectionId;
    if (query.eventType) base.eventType = query.eventType;
    if (query.status) base.status = query.status as MessageEntity['status'];
    const received = timeRange(query.from, query.to);
    if (received) base.receivedAt = received;
    // `q` finds a message by the vendor's delivery id or by text in its body (an order number, a SKU).
    const where = query.q ? [{ ...base, vendorDeliveryId: query.q }, { ...base, rawBody: Like(`%${query.q}%`) }] : base;
    const rows = await this.messages.find({
      where,
      order: { receivedAt: 'DESC' },
      take: pageSize(query.limit),
      select: { id: true, connectionId: true, vendorDeliveryId: true, topic: true, eventType: true, status: true, reasonCode: true, error: true, receivedAt: true, updatedAt: true },
    });
    return { items: rows };
  }

  @ApiOkResponse({ schema: MESSAGE_DETAIL })
  @ApiErrors(404)
  @Get(':id')
  async get(@Param('id') id: string) {
    const message = await this.messages.findOneBy({ id });
    if (!message) throw HubError.notFound('message', id);
    const deliveries = await this.deliveries.find({ where: { messageId: id }, order: { createdAt: 'ASC' } });
    const attempts = deliveries.length
      ? await this.attempts.find({ where: { deliveryId: In(deliveries.map((d) => d.id)) }, order: { attemptNumber: 'ASC' } })
      : [];
    const deadLetters = await this.deadLetters.findBy({ messageId: id });
    const acknowledged = deliveries.length ? await this.acknowledgements.findBy({ deliveryId: In(deliveries.map((d) => d.id)) }) : [];
    const acknowledgementOf = (deliveryId: string) => {
      const found = acknowledged.find((a) => a.deliveryId === deliveryId);
      return found ? { status: found.status, detail: found.detail, messageId: found.messageId, receivedAt: found.receivedAt } : null;
    };
    return {
      ...message,
      // Always a list: one event per canonical event the message became (`canonical` is how it is stored).
      events: canonicalEventsOf(message),
      deliveries: deliveries.map((d) => ({ ...d, attempts: attempts.filter((a) => a.deliveryId === d.id), acknowledgement: acknowledgementOf(d.id) })),
      deadLetters,
    };
  }
}
