import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MessageEntity, isPostgres } from '@omnihub/persistence';
import { QueueName, QueueService } from '@omnihub/queueing';
import { RelayService } from '../../apps/worker/src/relay/relay.service';
import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

/*
 * A transform that fails for a reason other than its payload: the database refuses to route one
 * message (a trigger), as it would when it is down or a constraint breaks. The message is retried
 * on its own within its source connection's attempt budget, then dead-lettered once with the error;
 * its batch-mate is routed and delivered without being charged, and the relay leaves the dead letter alone.
 */

const BACKOFF_MS = 50;
const MAX_ATTEMPTS = 3;
const REFUSAL = 'routing refused by test trigger';

/** A row of the attempt log: what the message looked like after each update of transform_attempts. */
type Logged = { attempts: number; status: string; nextAt: number | null; updatedAt: number };

/**
 * Triggers on `messages` for one vendor delivery id: routing it (setting `canonical`) raises, and
 * every update of its transform_attempts is logged, so that each recorded attempt and its schedule
 * can be read back however fast the retries ran.
 */
class PoisonTrigger {
  private readonly name = `poison_${randomUUID().slice(0, 8)}`;
  private readonly log = `${this.name}_log`;

  constructor(
    private readonly dataSource: DataSource,
    private readonly vendorDeliveryId: string,
  ) {}

  async create(): Promise<void> {
    const when = `NEW.vendor_delivery_id = '${this.vendorDeliveryId}'`;
    const logRow = `INSERT INTO ${this.log} (attempts, status, next_attempt_at, updated_at) VALUES (NEW.transform_attempts, NEW.status, NEW.next_attempt_at, NEW.updated_at)`;
    if (isPostgres()) {
      await this.dataSource.query(`CREATE TABLE ${this.log} (attempts integer, status varchar(20), next_attempt_at timestamptz, updated_at timestamptz)`);
      await this.dataSource.query(`CREATE FUNCTION ${this.name}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${REFUSAL} (message %)', NEW.id; END $$`);
      await this.dataSource.query(`CREATE FUNCTION ${this.name}_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${logRow}; RETURN NEW; END $$`);
      await this.dataSource.query(`CREATE TRIGGER ${this.name}_refuse BEFORE UPDATE OF canonical ON messages FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${this.name}_refuse()`);
      await this.dataSource.query(`CREATE TRIGGER ${this.name}_log AFTER UPDATE OF transform_attempts ON messages FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${this.name}_log()`);
    } else {
      await this.dataSource.query(`CREATE TABLE ${this.log} (attempts integer, status text, next_attempt_at text, updated_at text)`);
      await this.dataSource.query(`CREATE TRIGGER ${this.name}_refuse BEFORE UPDATE OF canonical ON messages WHEN ${when} BEGIN SELECT RAISE(ABORT, '${REFUSAL}'); END`);
      await this.dataSource.query(`CREATE TRIGGER ${this.name}_log AFTER UPDATE OF transform_attempts ON messages WHEN ${when} BEGIN ${logRow}; END`);
    }
  }

  async logged(): Promise<Logged[]> {
    const rows = (await this.dataSource.query(`SELECT attempts, status, next_attempt_at, updated_at FROM ${this.log} ORDER BY attempts`)) as Array<Record<string, unknown>>;
    return rows.map((row) => ({ attempts: Number(row.attempts), status: String(row.status), nextAt: row.next_attempt_at === null ? null : msOf(row.next_attempt_at), updatedAt: msOf(row.updated_at) }));
  }

  async drop(): Promise<void> {
    if (isPostgres()) {
      await this.dataSource.query(`DROP TRIGGER IF EXISTS ${this.name}_refuse ON messages`);
      await this.dataSource.query(`DROP TRIGGER IF EXISTS ${this.name}_log ON messages`);
      await this.dataSource.query(`DROP FUNCTION IF EXISTS ${this.name}_refuse()`);
      await this.dataSource.query(`DROP FUNCTION IF EXISTS ${this.name}_log()`);
    } else {
      await this.dataSource.query(`DROP TRIGGER IF EXISTS ${this.name}_refuse`);
      await this.dataSource.query(`DROP TRIGGER IF EXISTS ${this.name}_log`);
    }
    await this.dataSource.query(`DROP TABLE IF EXISTS ${this.log}`);
  }
}

/** PostgreSQL answers a Date; SQLite the UTC text TypeORM wrote ('YYYY-MM-DD HH:MM:SS.SSS'). */
function msOf(value: unknown): number {
  return value instanceof Date ? value.getTime() : Date.parse(`${String(value).replace(' ', 'T')}Z`);
}

describe('transform retry budget', () => {
  const ctx = useHubWithSink();

  it('retries a transform that throws, then dead-letters it once; the relay does not revive it', async () => {
    const { hub, sink } = ctx;
    const source = await createSource(hub, {}, { maxAttempts: MAX_ATTEMPTS, backoffMs: BACKOFF_MS, maxBackoffMs: 1000 });
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id);
    const poisonDeliveryId = randomUUID();
    const trigger = new PoisonTrigger(hub.dataSource, poisonDeliveryId);
    await trigger.create();
    const transform = hub.app.get(QueueService).queue(QueueName.TRANSFORM);
    try {
      // The two messages go through one transform job, so the batch's failed write involves both.
      // Ingress may commit them apart: the queue is held and their jobs are replaced by one.
      await transform.pause();
      const [poison, healthy] = await Promise.all([
        postWebhook(hub, source.id, JSON.stringify(canonicalOrder()), { 'x-delivery-id': poisonDeliveryId }),
        postWebhook(hub, source.id, JSON.stringify(canonicalOrder())),
      ]);
      expect([poison.status, healthy.status]).toEqual([202, 202]);
      const poisonId = poison.body.messageId as string;
      const healthyId = healthy.body.messageId as string;
      const queued = async () => new Set((await transform.getJobs(['wait', 'paused'])).flatMap((job) => job.data.messageIds as string[]));
      await waitFor(async () => (await queued()).size === 2, 'both messages queued for transform');
      await transform.drain();
      await hub.app.get(QueueService).enqueueTransforms([poisonId, healthyId]);
      await transform.resume();

      const message = async (id: string) => (await hub.admin.get(`/api/messages/${id}`)).body as Record<string, any>;
      const deadLettered = await waitFor(async () => {
        const m = await message(poisonId);
        return m.status === 'dead_lettered' && m;
      }, 'the failing message dead-lettered');

      // Retried with backoff: each failed attempt was recorded with its next time, within the
      // exponential cap, and the next run waited for it; the last one spent the budget.
      const logged = await trigger.logged();
      expect(logged.map((row) => [row.attempts, row.status])).toEqual([
        [1, 'received'],
        [2, 'received'],
        [3, 'dead_lettered'],
      ]);
      for (const [i, row] of logged.slice(0, -1).entries()) {
        expect(row.nextAt).not.toBeNull();
        expect(row.nextAt! - row.updatedAt).toBeGreaterThanOrEqual(0);
        expect(row.nextAt! - row.updatedAt).toBeLessThan(BACKOFF_MS * 2 ** i);
        expect(logged[i + 1]!.updatedAt).toBeGreaterThanOrEqual(row.nextAt!);
      }
      expect(logged[2]!.nextAt).toBeNull();

      expect(deadLettered).toMatchObject({ transformAttempts: MAX_ATTEMPTS, reasonCode: 'NETWORK_ERROR', canonical: null, deliveries: [] });
      expect(deadLettered.error).toContain(REFUSAL);
      const deadLetters = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<Record<string, any>>;
      expect(deadLetters).toHaveLength(1);
      expect(deadLetters[0]).toMatchObject({ stage: 'transform', messageId: poisonId, deliveryId: null, reasonCode: 'NETWORK_ERROR', status: 'open', replayCount: 0 });
      expect(deadLetters[0]!.error).toContain(REFUSAL);
      expect(deadLetters[0]!.error).toContain(`gave up after ${MAX_ATTEMPTS} attempts`);

      // Its batch-mate was routed on its own retry, charged nothing, and delivered once.
      const delivered = await waitFor(async () => {
        const m = await message(healthyId);
        return m.status === 'completed' && m;
      }, 'the healthy message completed');
      expect(delivered).toMatchObject({ transformAttempts: 0, reasonCode: null, error: null });
      expect(sink.requests.map((r) => (r.json as { id: string }).id)).toEqual([healthyId]);

      // Long unmoved, as the relay's grace period asks: every sweep still leaves it, and its deliveries, alone.
      await hub.dataSource.getRepository(MessageEntity).update({ id: poisonId }, { updatedAt: new Date(Date.now() - 60_000) });
      const relay = hub.app.get(RelayService);
      for (let sweep = 0; sweep < 3; sweep++) expect(await relay.sweep()).toMatchObject({ messages: 0, deliveries: 0 });
      const jobs = await transform.getJobs(['wait', 'paused', 'prioritized', 'delayed', 'active']);
      expect(jobs.filter((job) => (job.data.messageIds as string[]).includes(poisonId))).toEqual([]);
      expect(await message(poisonId)).toMatchObject({ status: 'dead_lettered', transformAttempts: MAX_ATTEMPTS, deliveries: [] });
      expect(await trigger.logged()).toHaveLength(MAX_ATTEMPTS);
      expect((await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items).toHaveLength(1);
    } finally {
      await transform.resume();
      await trigger.drop();
    }
  });
});
