import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { loadConfig } from '@omnihub/core';
import { QueueName, TransformJobData } from '@omnihub/queueing';
import { TransformService } from './transform.service';

// @nestjs/bullmq reads worker options from the decorator, so they are taken from the environment at load.
const config = loadConfig();

@Processor(QueueName.TRANSFORM, { concurrency: config.transformConcurrency, lockDuration: config.jobLockMs, stalledInterval: config.jobLockMs })
export class TransformProcessor extends WorkerHost {
  static readonly queue = QueueName.TRANSFORM;
  /** Transform jobs running in this process (reported if a shutdown runs out of time). */
  active = 0;

  constructor(private readonly transform: TransformService) {
    super();
  }

  /**
   * A worker's Redis errors (a connection closed under it at shutdown, Redis restarting) are
   * reported, not thrown: an 'error' event with no listener would crash the process.
   */
  @OnWorkerEvent('error')
  onError(error: Error): void {
    new Logger(TransformProcessor.name).warn(`transform worker: ${error.message}`);
  }

  async process(job: Job<TransformJobData>): Promise<void> {
    this.active++;
    try {
      await this.transform.run(job.data.messageIds);
    } finally {
      this.active--;
    }
  }
}
