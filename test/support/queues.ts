import { QueueName, QueueService, deliverQueueName } from '@omnihub/queueing';
import { TestHub, waitFor } from './hub';

/** Every state a BullMQ job is in before it has finished (finished jobs are removed at once). */
const UNFINISHED = ['active', 'wait', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/**
 * Waits until the transform queue and the delivery queues of `destinationIds` hold no job in any
 * state: every job already enqueued (a retry, a repeated job) has run, and what it did (a request to
 * a fake server, an attempt, a dead letter) has happened. A test that asserts something did not
 * happen waits on this instead of sleeping. The transform queue is read first: a transform job
 * enqueues its deliveries before it finishes, so once it is empty its deliveries are in their queues.
 *
 * Jobs are enqueued after a webhook's answer (the ingest batcher chains them in commit order), so to
 * cover what a webhook might have enqueued, first wait for a later message to be processed.
 */
export async function queuesDrained(hub: TestHub, destinationIds: string[] = [], timeoutMs?: number): Promise<void> {
  const queues = hub.app.get(QueueService);
  const names = [QueueName.TRANSFORM, ...destinationIds.map(deliverQueueName)];
  await waitFor(
    async () => {
      for (const name of names) {
        const counts = await queues.queue(name).getJobCounts(...UNFINISHED);
        if (Object.values(counts).some((n) => n > 0)) return false;
      }
      return true;
    },
    `no job left in ${names.join(', ')}`,
    timeoutMs,
  );
}
