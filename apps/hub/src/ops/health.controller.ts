import { Controller, Get, Res } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { HubLifecycle, withTimeout } from '@omnihub/core';
import { QueueService } from '@omnihub/queueing';

/**
 * Liveness says the process runs; readiness says it can do its work (database and Redis answer)
 * and is not stopping: a load balancer stops routing to a process that drains.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
    private readonly lifecycle: HubLifecycle,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** The 503 is set on the reply, not thrown: the admin API's exception filter would make it a 500. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    if (this.lifecycle.draining) {
      void reply.code(503);
      return { status: 'draining', checks: {} };
    }
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await withTimeout(probe(), 2000);
        return { status: 'up' };
      } catch (error) {
        return { status: 'down', error: (error as Error).message };
      }
    };
    const [database, redis] = await Promise.all([check(() => this.dataSource.query('SELECT 1')), check(() => this.queues.connection.ping())]);
    const body = { status: database.status === 'up' && redis.status === 'up' ? 'ok' : 'unavailable', checks: { database, redis } };
    if (body.status !== 'ok') void reply.code(503);
    return body;
  }
}
