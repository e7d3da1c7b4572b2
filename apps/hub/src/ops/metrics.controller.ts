import { Controller, Get, Header } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { HubMetrics } from '@omnihub/core';
import { QueueService } from '@omnihub/queueing';

/** Prometheus scrape endpoint. Queue depths are read from Redis at scrape time, not on the hot path. */
@Controller('metrics')
export class MetricsController {
  private readonly queueJobs: Gauge<'queue' | 'state'>;

  constructor(
    private readonly metrics: HubMetrics,
    private readonly queues: QueueService,
  ) {
    this.queueJobs = new Gauge({
      name: 'omnihub_queue_jobs',
      help: 'Jobs in each queue this process has opened, by state.',
      labelNames: ['queue', 'state'] as const,
      registers: [metrics.registry],
    });
  }

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    this.queueJobs.reset();
    for (const queue of this.queues.openQueues()) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, count] of Object.entries(counts)) this.queueJobs.set({ queue: queue.name, state }, count);
    }
    return this.metrics.registry.metrics();
  }
}
