import { Injectable, Logger } from '@nestjs/common';
import { HubMetrics } from '@omnihub/core';
import { ConnectorContext, ConnectorRegistry, pollerOf } from '@omnihub/connector-sdk';
import { IngestService } from '@omnihub/ingest';
import { ConnectionStore, POLL_CURSOR_KEY } from '@omnihub/persistence';
import { Leases } from '@omnihub/queueing';
import { ConnectorContexts } from '../connector-contexts';

/** Renewed every third of this while a poll runs; a process that dies mid-poll frees it by expiry. */
const POLL_LEASE_MS = 30000;

export type PollOutcome = 'completed' | 'failed' | 'overlapping' | 'not polled' | 'stopped';

/** The process is stopping: a poll waiting for a token gives up its wait; what it committed stays. */
class PollStopped extends Error {}

/**
 * One poll of one connection: page by page, each page's messages through the same ingest path as
 * webhooks (durable, deduplicated, transformed and routed alike), then its cursor saved. So the
 * cursor never runs ahead of what is committed: a crash, a restart or a lost Redis means the next
 * poll repeats at most one page, and dedupe drops what it had already stored.
 */
@Injectable()
export class PollService {
  private readonly logger = new Logger(PollService.name);
  private readonly stopping = new AbortController();

  constructor(
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly contexts: ConnectorContexts,
    private readonly ingest: IngestService,
    private readonly leases: Leases,
    private readonly metrics: HubMetrics,
  ) {}

  /**
   * Called first in a shutdown: running polls stop at their next token wait or page, so the worker
   * does not wait a minute for Amazon's getOrders bucket; the next poll (any process) resumes from
   * the cursor, which covers exactly what was committed.
   */
  stop(): void {
    this.stopping.abort();
  }

  /** `holder`: names this run of the poll (unique per run: see PollProcessor). */
  async poll(connectionId: string, holder: string): Promise<PollOutcome> {
    const connection = await this.connections.get(connectionId);
    const polled = connection && pollerOf(this.connectors, connection);
    if (!connection || !polled) return 'not polled'; // deleted or paused since the job was scheduled
    const lease = await this.leases.acquire(`poll:${connectionId}`, holder, POLL_LEASE_MS);
    if (!lease) {
      this.metrics.polls.inc({ connection: connectionId, outcome: 'overlapping' });
      this.logger.debug({ msg: 'poll skipped: another process is polling this connection', connection: { id: connectionId, name: connection.name } });
      return 'overlapping';
    }
    const { context, dispose } = this.stoppable(this.contexts.of(connection));
    let pages = 0;
    let accepted = 0;
    try {
      const cursor = await context.state.get(POLL_CURSOR_KEY);
      for await (const page of polled.poller.poll({ ...context, cursor })) {
        const results = await Promise.all(page.messages.map((m) => this.ingest.submit({ connectionId, topic: m.topic, vendorDeliveryId: m.deliveryId, entity: m.entity, rawBody: m.body, headers: {} })));
        const fresh = results.filter((r) => !r.duplicate).length;
        this.metrics.polledMessages.inc({ connection: connectionId, outcome: 'accepted' }, fresh);
        this.metrics.polledMessages.inc({ connection: connectionId, outcome: 'duplicate' }, results.length - fresh);
        accepted += fresh;
        pages++;
        // Lost the lease (it expired while a page was slow): another poll may have started from the old cursor; dedupe keeps that harmless, but stop here.
        if (!lease.held) throw new Error('the poll lease was lost');
        await context.state.set(POLL_CURSOR_KEY, page.cursor);
        if (this.stopping.signal.aborted) throw new PollStopped('the process is stopping');
      }
      this.metrics.polls.inc({ connection: connectionId, outcome: 'completed' });
      this.logger.debug({ msg: `poll completed: ${pages} pages, ${accepted} new messages`, connection: { id: connectionId, name: connection.name } });
      return 'completed';
    } catch (error) {
      if (error instanceof PollStopped) {
        this.metrics.polls.inc({ connection: connectionId, outcome: 'stopped' });
        this.logger.log({ msg: `poll stopped for shutdown after ${pages} committed pages (${accepted} new messages); the next poll resumes from there`, connection: { id: connectionId, name: connection.name } });
        return 'stopped';
      }
      this.metrics.polls.inc({ connection: connectionId, outcome: 'failed' });
      this.logger.warn({ msg: `poll failed after ${pages} committed pages (${accepted} new messages); the next poll resumes from there: ${(error as Error).message}`, connection: { id: connectionId, name: connection.name } });
      return 'failed';
    } finally {
      dispose();
      await lease.release();
    }
  }

  /**
   * The context with token waits that end when the process stops (the bucket may hold a poll for a
   * minute); `dispose` removes its listener from the process-wide signal once the poll is over.
   */
  private stoppable(context: ConnectorContext): { context: ConnectorContext; dispose(): void } {
    const { signal } = this.stopping;
    let onAbort = () => undefined as void;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(new PollStopped('the process is stopping'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    stopped.catch(() => undefined);
    const limits = context.rateLimits;
    return {
      context: {
        ...context,
        rateLimits: {
          ...limits,
          take: (operation) => (signal.aborted ? Promise.reject(new PollStopped('the process is stopping')) : Promise.race([limits.take(operation), stopped])),
        },
      },
      dispose: () => signal.removeEventListener('abort', onAbort),
    };
  }
}
