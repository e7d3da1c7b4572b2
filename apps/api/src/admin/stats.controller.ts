import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, In, Repository } from 'typeorm';
import { HubError, errorPattern } from '@omnihub/core';
import { ConnectionEntity, DeadLetterEntity, DeliveryAttemptEntity, DeliveryEntity, DeliveryStatus, MessageEntity } from '@omnihub/persistence';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { ApiErrors, ApiQueryParams } from '../http/openapi';
import { STATS } from './api-schemas';
import { TIME_RANGE_PARAMS, parseTimestamp } from './messages.controller';

const DAY_MS = 24 * 60 * 60 * 1000;
const LATENCY_SAMPLE = 50000;
const AGE_BUCKETS: Array<[string, number]> = [['under1h', 3600e3], ['under24h', DAY_MS], ['under7d', 7 * DAY_MS], ['older', Infinity]];
/** Exception aging: open dead letters older than each of these. */
const OLDER_THAN: Array<[string, number]> = [['1h', 3600e3], ['24h', DAY_MS], ['7d', 7 * DAY_MS]];
const MAX_FAILURE_GROUPS = 100;
const UNFINISHED = [DeliveryStatus.PENDING, DeliveryStatus.DELIVERING, DeliveryStatus.RETRYING];

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
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
  ) {}

  @ApiQueryParams({ properties: { from: { ...TIME_RANGE_PARAMS.from, description: 'RFC 3339; default: 24 h before to' }, to: { ...TIME_RANGE_PARAMS.to, description: 'RFC 3339; default: now' } } })
  @ApiOkResponse({ schema: STATS })
  @ApiErrors(400)
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
    const olderThan: Record<string, number> = {};
    for (const [name, ageMs] of OLDER_THAN) {
      olderThan[name] = await openDeadLetters.clone().andWhere('d.createdAt <= :before', { before: new Date(now - ageMs) }).getCount();
    }

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
      deadLetters: { open, byReason, byAge, olderThan, oldestOpenAt: oldest, byFingerprint: await this.failures() },
      undelivered: await this.undelivered(),
    };
  }

  /**
   * The open dead letters grouped by failure (see errorFingerprint), largest first: what support
   * works through, one row per failure with how often, since when, an example and where.
   */
  private async failures() {
    const groups = await this.deadLetters
      .createQueryBuilder('d')
      .select('d.fingerprint', 'fingerprint')
      .addSelect('d.reasonCode', 'reasonCode')
      .addSelect('d.stage', 'stage')
      .addSelect('COUNT(*)', 'count')
      .addSelect('MIN(d.error)', 'example')
      .where('d.status = :open', { open: 'open' })
      .groupBy('d.fingerprint')
      .addGroupBy('d.reasonCode')
      .addGroupBy('d.stage')
      .orderBy('COUNT(*)', 'DESC')
      .limit(MAX_FAILURE_GROUPS)
      .getRawMany<{ fingerprint: string; reasonCode: string; stage: string; count: string; example: string }>();
    if (groups.length === 0) return [];
    const fingerprints = groups.map((g) => g.fingerprint);
    // Read through the entity (timestamps and connection names the same way on both dialects).
    const members = await this.deadLetters.find({
      select: { fingerprint: true, connectionId: true, createdAt: true, updatedAt: true },
      where: { status: 'open', fingerprint: In(fingerprints) },
    });
    const names = new Map((await this.connections.find({ select: { id: true, name: true }, where: { id: In([...new Set(members.map((m) => m.connectionId))]) } })).map((c) => [c.id, c.name]));
    return groups.map((g) => {
      const mine = members.filter((m) => m.fingerprint === g.fingerprint);
      const ids = [...new Set(mine.map((m) => m.connectionId))];
      return {
        fingerprint: g.fingerprint,
        reasonCode: g.reasonCode,
        stage: g.stage,
        count: Number(g.count),
        pattern: errorPattern(g.example),
        example: g.example,
        firstSeenAt: new Date(Math.min(...mine.map((m) => m.createdAt.getTime()))).toISOString(),
        lastSeenAt: new Date(Math.max(...mine.map((m) => m.updatedAt.getTime()))).toISOString(),
        connections: ids.map((id) => ({ id, name: names.get(id) ?? null })),
      };
    });
  }

  /** Work not yet delivered, per destination: how much is waiting, retrying or in flight, and since when. */
  private async undelivered() {
    const rows = await this.deliveries
      .createQueryBuilder('d')
      .select('d.destinationConnectionId', 'connectionId')
      .addSelect('d.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .where('d.status IN (:...unfinished)', { unfinished: UNFINISHED })
      .groupBy('d.destinationConnectionId')
      .addGroupBy('d.status')
      .getRawMany<{ connectionId: string; status: string; count: string }>();
    const byDestination = new Map<string, Record<string, number>>();
    for (const row of rows) byDestination.set(row.connectionId, { ...byDestination.get(row.connectionId), [row.status]: Number(row.count) });
    const names = new Map((await this.connections.find({ select: { id: true, name: true }, where: { id: In([...byDestination.keys()]) } })).map((c) => [c.id, c.name]));
    return [...byDestination.entries()].map(([id, byStatus]) => ({
      connectionId: id,
      name: names.get(id) ?? null,
      total: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
    }));
  }
}
