import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Job } from 'bullmq';
import { loadConfig } from '@omnihub/core';
import { QueueName, TransformJobData } from '@omnihub/queueing';
import { TransformService } from './transform.service';

// @nestjs/bullmq reads worker options from the decorator, so they are taken from the environment at load.
const config = loadConfig();

@Processor(QueueName.TRANSFORM, { concurrency: config.transformConcurrency, lockDuration: config.jobLockMs, stalledInterval: config.jobLockMs })
export class TransformProcessor extends WorkerHost {
  static readonly queue = QueueName.TRANSFORM;

  constructor(private readonly transform: TransformService) {
    super();
  }

  async process(job: Job<TransformJobData>): Promise<void> {
    await this.transform.run(job.data.messageIds);
  }
}
