import { getRepositoryToken } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { DeliveryEntity, DeliveryStatus, MessageEntity, MessageStatus } from '@omnihub/persistence';
import { QueueName, QueueService } from '@omnihub/queueing';
import { RelayService } from '../../apps/worker/src/relay/relay.service';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { canonicalOrder, createSource, postWebhook } from '../support/fixtures';

describe('relay', () => {
  let api: TestHub;
  let relay: RelayService;
  let queues: QueueService;

  beforeAll(async () => {
    // The api role alone: messages are accepted and queued, and nothing consumes them.
    api = await startHub({ HUB_ROLE: 'api', HUB_RELAY_GRACE_MS: '0' });
    await resetDatabase(api.dataSource);
    queues = api.app.get(QueueService);
    relay = new RelayService(
      api.config,
      api.app.get<Repository<MessageEntity>>(getRepositoryToken(MessageEntity)),
      api.app.get<Repository<DeliveryEntity>>(getRepositoryToken(DeliveryEntity)),
      queues,
    );
  });
  afterAll(() => api.close());

  it('leaves messages alone while their jobs are queued, and re-enqueues them once the jobs are gone', async () => {
    const source = await createSource(api);
    await Promise.all(Array.from({ length: 30 }, () => postWebhook(api, source.id, JSON.stringify(canonicalOrder()))));
    const transform = queues.queue(QueueName.TRANSFORM);
    // The 202 is sent at commit and the transform enqueue follows it: wait until every message is queued.
    const queuedIds = async () => new Set((await transform.getJobs(['wait'])).flatMap((job) => job.data.messageIds as string[]));
    await waitFor(async () => (await queuedIds()).size === 30, 'all 30 messages queued for transform');

    // Jobs are still waiting (a backlog, not a loss): re-enqueueing them would only double the work.
    expect((await relay.sweep()).messages).toBe(0);

    await transform.obliterate({ force: true }); // Redis lost the work
    expect((await relay.sweep()).messages).toBe(30);
    expect((await queuedIds()).size).toBe(30);
  });

  it('completes a routed message whose deliveries all finished (a completion lost between two worker processes)', async () => {
    const source = await createSource(api);
    const res = await postWebhook(api, source.id, JSON.stringify(canonicalOrder()));
    const messageId = res.body.messageId as string;
    const old = new Date(Date.now() - 60_000);
    const deliveries = api.app.get<Repository<DeliveryEntity>>(getRepositoryToken(DeliveryEntity));
    const messages = api.app.get<Repository<MessageEntity>>(getRepositoryToken(MessageEntity));
    // The state two racing ledgers leave behind: every delivery terminal, the message still routed.
    await messages.update({ id: messageId }, { status: MessageStatus.ROUTED, updatedAt: old });
    const base = { messageId, destinationConnectionId: source.id, attempts: 1, roundStartAttempts: 0, createdAt: old, updatedAt: old };
    await deliveries.insert([
      { ...base, id: randomUUID(), routeId: randomUUID(), status: DeliveryStatus.DELIVERED },
      { ...base, id: randomUUID(), routeId: randomUUID(), status: DeliveryStatus.RETRYING },
    ]);
    // One delivery still retrying: not complete.
    expect((await relay.sweep()).completed).toBe(0);
    await deliveries.update({ messageId, status: DeliveryStatus.RETRYING }, { status: DeliveryStatus.DEAD_LETTERED });
    await messages.update({ id: messageId }, { updatedAt: old });
    expect((await relay.sweep()).completed).toBe(1);
    expect((await messages.findOneByOrFail({ id: messageId })).status).toBe(MessageStatus.COMPLETED);
  });
});
