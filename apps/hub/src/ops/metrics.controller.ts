import { Controller, Get, Header } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { HubMetrics } from '@omnihub/core';
import { ConnectionEntity } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';

/** Prometheus scrape endpoint. Queue depths are read from Redis at scrape time, not on the hot path. */
@Controller('metrics')
export class MetricsController {
  private readonly queueJobs: Gauge<'queue' | 'state'>;
  private readonly connectionInfo: Gauge<'connection' | 'name' | 'connector'>;

  constructor(
    private readonly metrics: HubMetrics,
    private readonly queues: QueueService,
    private readonly dataSource: DataSource,
  ) {
    this.queueJobs = new Gauge({
      name: 'omnihub_queue_jobs',
      help: 'Jobs in each queue this process has opened, by state.',
      labelNames: ['queue', 'state'] as const,
      registers: [metrics.registry],
    });
    // The other metrics label a connection by its id (`connection`, `destination`); this names it, one
    // series per connection, so a dashboard joins on the id (`* on(connection) group_left(name)`).
    this.connectionInfo = new Gauge({
      name: 'omnihub_connection_info',
      help: 'One series per connection, always 1: its id, name and connector (join on the id to name a connection in other metrics).',
      labelNames: ['connection', 'name', 'connector'] as const,
      registers: [metrics.registry],
    });
  }

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    this.connectionInfo.reset();
    const connections = await this.dataSource.getRepository(ConnectionEntity).find({ select: { id: true, name: true, connector: true } });
    for (const c of connections) this.connectionInfo.set({ connection: c.id, name: c.name, connector: c.connector }, 1);
    this.queueJobs.reset();
    for (const queue of this.queues.openQueues()) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, count] of Object.entries(counts)) this.queueJobs.set({ queue: queue.name, state }, count);
    }
    return this.metrics.registry.metrics();
  }
}
