import { Controller, Get, Res } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { HubLifecycle, withTimeout } from '@omnihub/core';
import { ConnectionStore, readSecretKeyFingerprint } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';

/**
 * Liveness says the process runs; readiness says it can do its work (database and Redis answer,
 * and the database's secrets are still sealed with this process's key) and is not stopping: a load
 * balancer stops routing to a process that drains, and an orchestrator replaces one whose key was
 * rotated away by another process's start (it could no longer open a connection's secrets).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
    private readonly lifecycle: HubLifecycle,
    private readonly connections: ConnectionStore,
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
    const [database, redis, secretKey] = await Promise.all([
      check(() => this.dataSource.query('SELECT 1')),
      check(() => this.queues.connection.ping()),
      check(() => this.sealedWithOurKey()),
    ]);
    const checks = { database, redis, secretKey };
    const body = { status: Object.values(checks).every((c) => c.status === 'up') ? 'ok' : 'unavailable', checks };
    if (body.status !== 'ok') void reply.code(503);
    return body;
  }

  /** The key fingerprint the database knows, read fresh, against this process's own (a fingerprint, never a key). */
  private async sealedWithOurKey(): Promise<void> {
    const stored = await readSecretKeyFingerprint(this.dataSource);
    if (stored !== undefined && stored !== this.connections.secretBox.fingerprint()) {
      throw new Error(
        "the database's secrets are sealed with another key than this process's HUB_SECRET_KEY (another process rotated it since this one started); restart this process with the current key",
      );
    }
  }
}
