import { INestApplication, Logger } from '@nestjs/common';
import { HubConfig, HubLifecycle } from '@omnihub/core';

/**
 * Graceful stop on SIGTERM or SIGINT, within HUB_SHUTDOWN_TIMEOUT_MS. The order (Nest's close phases):
 * 1. draining: new webhooks get 503 with Retry-After, readiness 503; the admin API keeps answering;
 * 2. webhooks already being stored finish: their batch commits, they get their 202, their transform
 *    jobs are enqueued (ingress, destroy phase);
 * 3. the BullMQ workers stop taking jobs and finish the running ones, each recording its outcome;
 *    the relay stops; the ledger's batched writes and the entity leases are flushed (worker module,
 *    before-shutdown phase);
 * 4. the HTTP server stops listening and lets the requests it is answering finish;
 * 5. queues, Redis, mapping threads and the database close; exit 0.
 * Past the timeout it logs what was still in flight and exits 1. Nothing is lost either way: the
 * database is the record, and what a cut-off job left unfinished is recovered after the restart
 * (BullMQ's stalled-job check, then the relay). A second signal changes nothing.
 */
export function stopOnSignals(app: INestApplication, config: HubConfig): void {
  const logger = new Logger('Shutdown');
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: the shutdown under way goes on (at most HUB_SHUTDOWN_TIMEOUT_MS = ${config.shutdownTimeoutMs} ms from the first signal)`);
      return;
    }
    stopping = true;
    const lifecycle = app.get(HubLifecycle);
    lifecycle.beginDrain();
    logger.log(`${signal}: draining (new webhooks get 503), finishing in-flight requests and jobs`);
    const timer = setTimeout(() => {
      const busy = Object.entries(lifecycle.inFlight()).map(([what, n]) => `${what}: ${n}`);
      logger.error(
        `shutdown did not finish within HUB_SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs} ms); still in flight: ${busy.join(', ') || 'nothing counted (a close step hung)'}. ` +
          'Exiting anyway: the database holds every accepted message, and unfinished jobs are recovered after the restart.',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    app.close().then(
      () => {
        clearTimeout(timer);
        process.exit(0);
      },
      (error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
