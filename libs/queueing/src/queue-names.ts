/**
 * Every queue and job name the hub uses, in one place. BullMQ forbids ':' in queue names, so the
 * per-destination queues use '.'.
 */
export const QueueName = {
  TRANSFORM: 'transform',
  POLL: 'poll',
} as const;
export type StaticQueueName = (typeof QueueName)[keyof typeof QueueName];

export const JobName = {
  TRANSFORM_MESSAGE: 'transform-message',
  DELIVER: 'deliver',
  POLL_CONNECTION: 'poll-connection',
} as const;

const DELIVER_QUEUE_PREFIX = 'deliver.';

export const deliverQueueName = (destinationConnectionId: string): string => `${DELIVER_QUEUE_PREFIX}${destinationConnectionId}`;

/** Jobs carry ids only; processors load everything else from the database. */
/** A transform job carries the ids of the messages one ingest batch committed together. */
export interface TransformJobData {
  messageIds: string[];
}

/** A poll of one connection, made by that connection's job scheduler. */
export interface PollJobData {
  connectionId: string;
}

/** One job scheduler per polled connection, so creating it again (every sync, every process) changes nothing. */
export const pollSchedulerId = (connectionId: string): string => `poll-${connectionId}`;
export const connectionOfPollScheduler = (schedulerId: string): string | undefined => (schedulerId.startsWith('poll-') ? schedulerId.slice('poll-'.length) : undefined);

export interface DeliverJobData {
  deliveryId: string;
  /** Since when an open circuit has held this delivery (epoch ms), when it was held before this job. */
  heldSince?: number;
}

/**
 * Deterministic job ids make every enqueue idempotent: while a job for this step exists, adding it
 * again (relay, replay, a repeated transform) is a no-op. The attempt number is part of the id, so
 * the next retry is a new job.
 */
export const transformJobId = (messageIds: string[]): string => `t-${messageIds[0]}-${messageIds.length}`;
/** A message's transform retried after its resolve stage failed: a new job per attempt, as with deliveries. */
export const transformRetryJobId = (messageId: string, attempt: number): string => `t-${messageId}-r${attempt}`;
export const deliverJobId = (deliveryId: string, attempts: number): string => `d-${deliveryId}-${attempts}`;
/** The attempt number a delivery job was enqueued for (undefined for an id not made by deliverJobId). */
export function attemptsOfDeliverJob(jobId: string | undefined): number | undefined {
  const match = jobId ? /^d-.+-(\d+)$/.exec(jobId) : null;
  return match ? Number(match[1]) : undefined;
}
