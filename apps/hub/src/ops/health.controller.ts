import { Controller, Get, HttpException } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { withTimeout } from '@omnihub/core';
import { QueueService } from '@omnihub/queueing';

/** Liveness says the process runs; readiness says it can do its work (database and Redis answer). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready() {
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
    if (body.status !== 'ok') throw new HttpException(body, 503);
    return body;
  }
}
