import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, Repository } from 'typeorm';
import { HubError } from '@omnihub/core';
import { DeadLetterEntity, DeliveryAttemptEntity, DeliveryEntity, MessageEntity } from '@omnihub/persistence';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { parseTimestamp } from './messages.controller';

const DAY_MS = 24 * 60 * 60 * 1000;
const LATENCY_SAMPLE = 50000;
const AGE_BUCKETS: Array<[string, number]> = [['under1h', 3600e3], ['under24h', DAY_MS], ['under7d', 7 * DAY_MS], ['older', Infinity]];

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The operations overview (DESIGN.md §5): per connection, what came in and what went out, how
 * much of it succeeded and how fast; and the open exceptions by reason and by age, so nothing
 * sits unnoticed in the dead-letter store.
 */
@ApiTags('stats')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/stats')
export class StatsController {
  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryAttemptEntity) private readonly attempts: Repository<DeliveryAttemptEntity>,
    @InjectRepository(DeadLetterEntity) private readonly deadLetters: Repository<DeadLetterEntity>,
  ) {}

  @Get()
  async stats(@Query('from') fromText?: string, @Query('to') toText?: string) {
    const to = toText ? parseTimestamp(toText, 'to') : new Date();
    const from = fromText ? parseTimestamp(fromText, 'from') : new Date(to.getTime() - DAY_MS);
    if (from >= to) throw HubError.validation('from must be before to', [{ path: '/from', message: 'must be before to' }]);
    const minutes = (to.getTime() - from.getTime()) / 60000;

    const inbound = await this.messages
      .createQueryBuilder('m')
      .select('m.connectionId', 'connectionId')
      .addSelect('m.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .where({ receivedAt: Between(from, to) })
      .groupBy('m.connectionId')
      .addGroupBy('m.status')
      .getRawMany<{ connectionId: string; status: string; count: string }>();

    const attempts = await this.attempts
      .createQueryBuilder('a')
      .innerJoin(DeliveryEntity, 'd', 'd.id = a.deliveryId')
      .select('d.destinationConnectionId', 'connectionId')
      .addSelect('a.outcome', 'outcome')
      .addSelect('a.latencyMs', 'latencyMs')
      .where({ startedAt: Between(from, to) })
      .orderBy('a.startedAt', 'DESC')
      .limit(LATENCY_SAMPLE)
      .getRawMany<{ connectionId: string; outcome: string; latencyMs: number }>();

    const connections = new Map<string, { received: Record<string, number>; attempts: Record<string, number>; latencies: number[] }>();
    const entry = (id: string) => {
      let e = connections.get(id);
      if (!e) connections.set(id, (e = { received: {}, attempts: {}, latencies: [] }));
      return e;
    };
    for (const row of inbound) entry(row.connectionId).received[row.status] = Number(row.count);
    for (const row of attempts) {
      const e = entry(row.connectionId);
      e.attempts[row.outcome] = (e.attempts[row.outcome] ?? 0) + 1;
      e.latencies.push(Number(row.latencyMs));
    }

    // Aggregated in the database: the open exceptions can be many, and only their counts are shown.
    const openDeadLetters = this.deadLetters.createQueryBuilder('d').where('d.status = :open', { open: 'open' });
    const byReasonRows = await openDeadLetters.clone().select('d.reasonCode', 'reason').addSelect('COUNT(*)', 'count').groupBy('d.reasonCode').getRawMany<{ reason: string; count: string }>();
    const byReason = Object.fromEntries(byReasonRows.map((row) => [row.reason, Number(row.count)]));
    const now = Date.now();
    const byAge: Record<string, number> = {};
    let newerThan = new Date(now);
    for (const [name, limit] of AGE_BUCKETS) {
      const olderThan = Number.isFinite(limit) ? new Date(now - limit) : new Date(0);
      byAge[name] = await openDeadLetters.clone().andWhere('d.createdAt > :olderThan AND d.createdAt <= :newerThan', { olderThan, newerThan }).getCount();
      newerThan = olderThan;
    }
    // Through the entity, so the timestamp is read the same way on both dialects.
    const oldest = (await this.deadLetters.findOne({ where: { status: 'open' }, order: { createdAt: 'ASC' }, select: { id: true, createdAt: true } }))?.createdAt ?? null;
    const open = Object.values(byReason).reduce((a, b) => a + b, 0);

    return {
      window: { from: from.toISOString(), to: to.toISOString() },
      connections: [...connections.entries()].map(([connectionId, e]) => {
        const latencies = e.latencies.sort((a, b) => a - b);
        const delivered = e.attempts.delivered ?? 0;
        const deadLettered = e.attempts.dead_letter ?? 0;
        const received = Object.values(e.received).reduce((a, b) => a + b, 0);
        return {
          connectionId,
          inbound: { received, perMinute: received / minutes, byStatus: e.received },
          outbound: {
            attempts: e.attempts,
            deliveredPerMinute: delivered / minutes,
            // Of the deliveries that finished in the window, the share that reached the destination.
            successRate: delivered + deadLettered > 0 ? delivered / (delivered + deadLettered) : null,
            latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
          },
        };
      }),
      deadLetters: { open, byReason, byAge, oldestOpenAt: oldest },
    };
  }
}
