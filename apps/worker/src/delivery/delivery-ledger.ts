import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Batcher, ErrorDetail, HubMetrics, ReasonCode, hubLogger } from '@omnihub/core';
import {
  AttemptOutcome,
  ConnectionStore,
  DeliveryAttemptEntity,
  DeliveryStatus,
  MessageStatus,
  TERMINAL_DELIVERY_STATUSES,
  isPostgres,
  queryPrepared,
  runSql,
  typed,
  unindexed,
} from '@omnihub/persistence';
import { openDeadLetter } from '../dead-letters';

/** One finished attempt, as the delivery service hands it over for recording. */
export interface AttemptRecord {
  deliveryId: string;
  messageId: string;
  destinationConnectionId: string;
  /** `attempts` when the attempt started; the claim fails if another run recorded it meanwhile. */
  previousAttempts: number;
  outcome: AttemptOutcome;
  /** The circuit breaker's probe (recorded as such). */
  probe: boolean;
  /** False for a retry the open circuit holds: the round's budget is moved on by this attempt. */
  spendsBudget: boolean;
  startedAt: Date;
  latencyMs: number;
  httpStatus: number | null;
  reasonCode: ReasonCode | null;
  error: string | null;
  /** The destination's own account of what it refused (field paths), kept in the dead letter. */
  details?: ErrorDetail[];
  nextAttemptAt: Date | null;
}

const STATUS_BY_OUTCOME: Record<AttemptOutcome, DeliveryStatus> = {
  delivered: DeliveryStatus.DELIVERED,
  retry: DeliveryStatus.RETRYING,
  dead_letter: DeliveryStatus.DEAD_LETTERED,
  superseded: DeliveryStatus.SUPERSEDED,
};
const TERMINAL = TERMINAL_DELIVERY_STATUSES as string[];

type LedgerEntry = { kind: 'mark'; deliveryId: string; attempts: number } | { kind: 'outcome'; record: AttemptRecord };

const ONE_STATEMENT_LEDGER = `
  WITH marked AS (
    UPDATE deliveries d SET status = '${DeliveryStatus.DELIVERING}', updated_at = $1
    FROM unnest($3::varchar[], $4::int[]) AS m(id, attempts)
    WHERE d.id = m.id AND d.attempts = m.attempts AND ${unindexed('d.status')} IN ('${DeliveryStatus.PENDING}', '${DeliveryStatus.RETRYING}')
    RETURNING d.id
  ), v AS (
    SELECT * FROM unnest($5::varchar[], $6::int[], $7::varchar[], $8::timestamptz[], $9::varchar[], $10::text[], $11::timestamptz[],
                         $12::varchar[], $13::timestamptz[], $14::int[], $15::int[], $16::varchar[], $17::int[], $18::boolean[])
      AS v(id, prev, status, next_attempt_at, reason_code, last_error, delivered_at, attempt_id, started_at, latency_ms, http_status, outcome, unspent, probe)
  ), won AS (
    UPDATE deliveries d SET attempts = v.prev + 1, round_start_attempts = d.round_start_attempts + v.unspent, status = v.status,
      next_attempt_at = v.next_attempt_at, reason_code = v.reason_code, last_error = v.last_error, delivered_at = v.delivered_at, updated_at = $1
    FROM v WHERE d.id = v.id AND d.attempts = v.prev AND d.status <> ALL($2::varchar[])
    RETURNING d.id, d.message_id, d.status
  ), recorded AS (
    INSERT INTO delivery_attempts (id, delivery_id, attempt_number, started_at, latency_ms, http_status, outcome, reason_code, error, probe)
    SELECT v.attempt_id, v.id, v.prev + 1, v.started_at, v.latency_ms, v.http_status, v.outcome, v.reason_code, v.last_error, v.probe
    FROM v JOIN won ON won.id = v.id
  ), completed AS (
    UPDATE messages m SET status = '${MessageStatus.COMPLETED}', updated_at = $1
    WHERE m.id IN (SELECT message_id FROM won) AND ${unindexed('m.status')} = '${MessageStatus.ROUTED}'
      AND NOT EXISTS (SELECT 1 FROM won w WHERE w.message_id = m.id AND w.status <> ALL($2::varchar[]))
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.status <> ALL($2::varchar[])
                        AND NOT EXISTS (SELECT 1 FROM won w WHERE w.id = d.id))
  )
  SELECT id FROM won`;

/**
 * An attempt still in flight after this long is shown as `delivering`. A quicker attempt's outcome
 * follows at once and would overwrite the mark, so the mark is never written: one row rewrite less
 * per delivery, and the state still shows where a support engineer looks (a slow or hung destination).
 */
export const DELIVERING_MARK_DELAY_MS = 1000;

/** PostgreSQL's deadlock and serialization failures: the transaction did nothing and can run again. */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const MAX_TRANSACTION_TRIES = 5;

/**
 * Records delivery attempts with group commit: the in-flight marks and outcomes of deliveries that
 * finish together are written in one transaction (one multi-row conditional UPDATE per kind, one
 * multi-row INSERT, one completion check) instead of a transaction each. One writer per process,
 * so this process's writes to `deliveries` never deadlock each other; a deadlock with another
 * process is retried. `record` resolves once its row is committed, with whether this run's claim
 * on the attempt won.
 */
@Injectable()
export class DeliveryLedger {
  private readonly logger = new Logger(DeliveryLedger.name);
  private readonly writer = new Batcher<LedgerEntry, boolean>((entries) => this.write(entries), 300);
  /** Attempts in flight whose `delivering` mark is not written yet, by delivery id. */
  private readonly pendingMarks = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: HubMetrics,
    private readonly connections: ConnectionStore,
  ) {}

  record(record: AttemptRecord): Promise<boolean> {
    this.cancelMark(record.deliveryId);
    return this.writer.submit({ kind: 'outcome', record });
  }

  /**
   * Shows the delivery as in flight if its attempt outlasts DELIVERING_MARK_DELAY_MS. Not awaited
   * by the sender: the state is informational, and the attempts condition keeps a late mark from
   * overwriting the outcome that follows it.
   */
  attemptStarted(deliveryId: string, attempts: number): void {
    this.cancelMark(deliveryId);
    const timer = setTimeout(() => {
      this.pendingMarks.delete(deliveryId);
      this.writer.submit({ kind: 'mark', deliveryId, attempts }).catch((error: Error) => this.logger.warn(`delivering mark not written: ${error.message}`));
    }, DELIVERING_MARK_DELAY_MS);
    timer.unref();
    this.pendingMarks.set(deliveryId, timer);
  }

  /**
   * Waits for every write submitted so far; called once the delivery workers have stopped (each job
   * awaited its own outcome), before the database closes. In-flight marks not yet due are dropped.
   */
  async flushed(): Promise<void> {
    for (const timer of this.pendingMarks.values()) clearTimeout(timer);
    this.pendingMarks.clear();
    await this.writer.idle();
  }

  private cancelMark(deliveryId: string): void {
    const timer = this.pendingMarks.get(deliveryId);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.pendingMarks.delete(deliveryId);
  }

  private async write(entries: LedgerEntry[]): Promise<boolean[]> {
    const records: AttemptRecord[] = [];
    const claimsInBatch = new Set<string>();
    for (const e of entries) {
      // Two runs of one job can finish in one batch; only the first may claim the attempt.
      if (e.kind === 'outcome' && !claimsInBatch.has(e.record.deliveryId)) {
        claimsInBatch.add(e.record.deliveryId);
        records.push(e.record);
      }
    }
    // A mark whose outcome commits in the same batch would be overwritten at once: skip it.
    const marks = entries.flatMap((e) => (e.kind === 'mark' && !claimsInBatch.has(e.deliveryId) ? [e] : []));
    const oneStatement = isPostgres() && records.every((r) => r.outcome !== 'dead_letter');
    for (let attempt = 1; ; attempt++) {
      try {
        const won = oneStatement
          ? await this.writeInOneStatement(marks, records)
          : await this.dataSource.transaction(async (manager) => {
              if (marks.length > 0) await writeMarks(manager, marks);
              return records.length > 0 ? this.writeOutcomes(manager, records) : new Set<string>();
            });
        const claimed = new Set(records.filter((r) => won.has(r.deliveryId)));
        this.count([...claimed]);
        return entries.map((e) => e.kind === 'mark' || claimed.has(e.record));
      } catch (error) {
        const code = (error as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (error as { code?: string }).code;
        if (!code || !RETRYABLE_SQLSTATES.has(code) || attempt >= MAX_TRANSACTION_TRIES) throw error;
      }
    }
  }

  /**
   * PostgreSQL, no dead letters in the batch (the common case): marks, claimed outcomes, attempt
   * records and message completion in one statement of data-modifying CTEs, one round trip and an
   * implicit transaction instead of six. Rows arrive as arrays (unnest), so the SQL text is constant.
   * All CTEs see one snapshot, so completion counts this statement's own outcomes from `won`.
   */
  private async writeInOneStatement(marks: Array<{ deliveryId: string; attempts: number }>, records: AttemptRecord[]): Promise<Set<string>> {
    const now = new Date();
    const rows = await queryPrepared<{ id: string }>(this.dataSource, 'omnihub_ledger', ONE_STATEMENT_LEDGER, [
      now,
      TERMINAL,
      marks.map((m) => m.deliveryId),
      marks.map((m) => m.attempts),
      records.map((r) => r.deliveryId),
      records.map((r) => r.previousAttempts),
      records.map((r) => STATUS_BY_OUTCOME[r.outcome]),
      records.map((r) => r.nextAttemptAt),
      records.map((r) => r.reasonCode),
      records.map((r) => r.error),
      records.map((r) => (r.outcome === 'delivered' ? now : null)),
      records.map(() => randomUUID()),
      records.map((r) => r.startedAt),
      records.map((r) => r.latencyMs),
      records.map((r) => r.httpStatus),
      records.map((r) => r.outcome),
      records.map((r) => (r.spendsBudget ? 0 : 1)),
      records.map((r) => r.probe),
    ]);
    return new Set(rows.map((row) => row.id));
  }

  private count(recorded: AttemptRecord[]): void {
    for (const r of recorded) {
      this.metrics.deliveryAttempts.inc({ destination: r.destinationConnectionId, outcome: r.outcome, reason: r.reasonCode ?? '' });
      this.metrics.deliveryLatency.observe({ destination: r.destinationConnectionId }, r.latencyMs / 1000);
      if (r.outcome === 'dead_letter') this.metrics.deadLetters.inc({ stage: 'deliver', connection: r.destinationConnectionId, reason: r.reasonCode ?? '' });
    }
    const logged = recorded.filter((r) => r.outcome === 'dead_letter' || hubLogger().isLevelEnabled('debug'));
    if (logged.length > 0) void this.log(logged);
  }

  /**
   * After the commit, one line per recorded attempt: each at debug, and a dead letter (the attempt
   * that opened it) at info, with the ids and the destination by id and name (from the connection
   * cache, which the attempt has just read).
   */
  private async log(records: AttemptRecord[]): Promise<void> {
    for (const r of records) {
      const name = (await this.connections.get(r.destinationConnectionId).catch(() => undefined))?.name;
      const fields = {
        messageId: r.messageId,
        deliveryId: r.deliveryId,
        connection: { id: r.destinationConnectionId, name },
        attempt: r.previousAttempts + 1,
        outcome: r.outcome,
        httpStatus: r.httpStatus,
        reasonCode: r.reasonCode,
        latencyMs: r.latencyMs,
      };
      if (r.outcome === 'dead_letter') this.logger.log({ msg: `delivery dead-lettered (${r.reasonCode ?? ReasonCode.DESTINATION_REJECTED}): ${r.error ?? 'delivery failed'}`, ...fields, stage: 'deliver', error: r.error });
      else this.logger.debug({ msg: `delivery attempt ${r.outcome}`, ...fields, error: r.error ?? undefined });
    }
  }

  private async writeOutcomes(manager: EntityManager, records: AttemptRecord[]): Promise<Set<string>> {
    const now = new Date();
    const params: Record<string, unknown> = { now, terminal: TERMINAL };
    const values = records
      .map((r, i) => {
        Object.assign(params, {
          [`id${i}`]: r.deliveryId,
          [`prev${i}`]: r.previousAttempts,
          [`attempts${i}`]: r.previousAttempts + 1,
          [`status${i}`]: STATUS_BY_OUTCOME[r.outcome],
          [`next${i}`]: r.nextAttemptAt,
          [`reason${i}`]: r.reasonCode,
          [`error${i}`]: r.error,
          [`delivered${i}`]: r.outcome === 'delivered' ? now : null,
          [`unspent${i}`]: r.spendsBudget ? 0 : 1,
        });
        return `(:id${i}, ${typed(`prev${i}`, 'integer')}, ${typed(`attempts${i}`, 'integer')}, :status${i}, ${typed(`next${i}`, 'timestamp')}, ${typed(`reason${i}`, 'text')}, ${typed(`error${i}`, 'text')}, ${typed(`delivered${i}`, 'timestamp')}, ${typed(`unspent${i}`, 'integer')})`;
      })
      .join(', ');
    const claimed = await runSql<{ id: string }>(
      manager,
      `WITH v(id, prev, attempts, status, next_attempt_at, reason_code, last_error, delivered_at, unspent) AS (VALUES ${values})
       UPDATE deliveries SET attempts = v.attempts, round_start_attempts = deliveries.round_start_attempts + v.unspent, status = v.status, next_attempt_at = v.next_attempt_at,
         reason_code = v.reason_code, last_error = v.last_error, delivered_at = v.delivered_at, updated_at = :now
       FROM v WHERE deliveries.id = v.id AND deliveries.attempts = v.prev AND deliveries.status NOT IN (:...terminal)
       RETURNING deliveries.id`,
      params,
    );
    const won = new Set(claimed.rows.map((row) => row.id));
    const recorded = records.filter((r) => won.has(r.deliveryId));
    if (recorded.length === 0) return won;

    await manager.insert(
      DeliveryAttemptEntity,
      recorded.map((r) => ({
        id: randomUUID(),
        deliveryId: r.deliveryId,
        attemptNumber: r.previousAttempts + 1,
        startedAt: r.startedAt,
        latencyMs: r.latencyMs,
        httpStatus: r.httpStatus,
        outcome: r.outcome,
        reasonCode: r.reasonCode,
        error: r.error,
        probe: r.probe,
      })),
    );
    for (const r of recorded.filter((r) => r.outcome === 'dead_letter')) {
      await openDeadLetter(manager, {
        stage: 'deliver',
        messageId: r.messageId,
        deliveryId: r.deliveryId,
        connectionId: r.destinationConnectionId,
        reasonCode: r.reasonCode ?? ReasonCode.DESTINATION_REJECTED,
        error: r.error ?? 'delivery failed',
        details: [...(r.details ?? []), { path: '', message: `gave up after attempt ${r.previousAttempts + 1}` }],
      });
    }
    const finished = [...new Set(recorded.filter((r) => r.outcome !== 'retry').map((r) => r.messageId))];
    if (finished.length > 0) await completeMessages(manager, finished, now);
    return won;
  }
}

async function writeMarks(manager: EntityManager, marks: Array<{ deliveryId: string; attempts: number }>): Promise<void> {
  const values = marks.map((_, i) => `(:id${i}, ${typed(`attempts${i}`, 'integer')})`).join(', ');
  const params: Record<string, unknown> = { now: new Date(), delivering: DeliveryStatus.DELIVERING, open: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING] };
  marks.forEach((m, i) => Object.assign(params, { [`id${i}`]: m.deliveryId, [`attempts${i}`]: m.attempts }));
  await runSql(
    manager,
    `WITH v(id, attempts) AS (VALUES ${values})
     UPDATE deliveries SET status = :delivering, updated_at = :now
     FROM v WHERE deliveries.id = v.id AND deliveries.attempts = v.attempts AND deliveries.status IN (:...open)`,
    params,
  );
}

/**
 * The completion rule, for an UPDATE of `messages`: routed, and every one of its deliveries has
 * reached a terminal state. Binds :routed and :...terminal (see COMPLETION_PARAMETERS).
 */
export const MESSAGE_IS_FINISHED = `messages.status = :routed
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.status NOT IN (:...terminal))`;
export const COMPLETION_PARAMETERS = { completed: MessageStatus.COMPLETED, routed: MessageStatus.ROUTED, terminal: TERMINAL };

/** A message is completed once every one of its deliveries has reached a terminal state. */
export async function completeMessages(target: DataSource | EntityManager, messageIds: string[], now: Date): Promise<void> {
  await runSql(
    target,
    `UPDATE messages SET status = :completed, updated_at = :now WHERE id IN (:...ids) AND ${MESSAGE_IS_FINISHED}`,
    { ...COMPLETION_PARAMETERS, now, ids: messageIds },
  );
}
