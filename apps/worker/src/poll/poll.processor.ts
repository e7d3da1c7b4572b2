import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Job } from 'bullmq';
import { loadConfig } from '@omnihub/core';
import { PollJobData, QueueName } from '@omnihub/queueing';
import { PollService } from './poll.service';

const config = loadConfig();
/** Polls of different connections run side by side; one connection's are never concurrent (PollService's lease). */
const POLL_CONCURRENCY = 4;

@Processor(QueueName.POLL, { concurrency: POLL_CONCURRENCY, lockDuration: config.jobLockMs, stalledInterval: config.jobLockMs })
export class PollProcessor extends WorkerHost {
  static readonly queue = QueueName.POLL;
  /** Polls running in this process (reported if a shutdown runs out of time). */
  active = 0;

  constructor(private readonly polls: PollService) {
    super();
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    new Logger(PollProcessor.name).warn(`poll worker: ${error.message}`);
  }

  /**
   * A poll that fails is not retried as a job: the connection's next scheduled poll resumes from
   * its cursor. One that finds another poll of its connection running is skipped.
   */
  async process(job: Job<PollJobData>): Promise<void> {
    this.active++;
    try {
      // The holder names this run, not only the job: a stalled job run again elsewhere keeps its id,
      // and the old run, resuming, must not pass the new run's lease off as its own.
      await this.polls.poll(job.data.connectionId, `${job.id ?? 'poll'}:${randomUUID()}`);
    } finally {
      this.active--;
    }
  }
}
