import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { HUB_CONFIG, HubConfig, HubError, HubLifecycle, HubMetrics, ReasonCode, withTimeout } from '@omnihub/core';
import { ConnectionContext, ConnectorInbound, ConnectorRegistry, ExtractedDelivery, Headers, InboundRequest, VerifyResult } from '@omnihub/connector-sdk';
import { IngestResult, IngestService } from '@omnihub/ingest';
import { ConnectionStore } from '@omnihub/persistence';

/** Headers that authenticate the caller to us are not worth keeping and must not be shown later. */
const UNSTORED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
const SHUTDOWN_FLUSH_MS = 5000;

/** Webhook ingress: verify and extract here, then the shared ingest path stores it (durable, deduplicated) and queues it. */
@Injectable()
export class IngressService implements OnModuleDestroy {
  private readonly logger = new Logger(IngressService.name);
  /** Webhooks being verified and stored right now: a shutdown lets them finish and get their answer. */
  private readonly inFlight = new Set<Promise<IngestResult>>();

  constructor(
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    private readonly metrics: HubMetrics,
    private readonly ingest: IngestService,
    private readonly lifecycle: HubLifecycle,
  ) {
    lifecycle.track('webhook requests', () => this.inFlight.size);
  }

  /** Once the process is stopping, new webhooks are refused (503) before their body is read. */
  get draining(): boolean {
    return this.lifecycle.draining;
  }

  /**
   * The first step of a stop: new webhooks are answered 503 from here on (also when the app is
   * closed without a signal), those already being stored finish, their batches commit and each gets
   * its 202. Then the enqueues of committed messages finish before the queue connections close;
   * with Redis down they cannot, and the relay enqueues those messages after the restart, so
   * shutdown waits for them a bounded time.
   */
  async onModuleDestroy(): Promise<void> {
    this.lifecycle.beginDrain();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await withTimeout(this.ingest.flushed(), SHUTDOWN_FLUSH_MS).catch(() => undefined);
  }

  webhookUrl(connectionId: string): string {
    return `${this.config.publicUrl}/webhooks/${connectionId}`;
  }

  async accept(connectionId: string, rawBody: Buffer, headers: Headers): Promise<IngestResult> {
    const accepting = this.verifyAndStore(connectionId, rawBody, headers);
    this.inFlight.add(accepting);
    try {
      return await accepting;
    } finally {
      this.inFlight.delete(accepting);
    }
  }

  private async verifyAndStore(connectionId: string, rawBody: Buffer, headers: Headers): Promise<IngestResult> {
    const connection = await this.connections.get(connectionId);
    const inbound = connection && this.connectors.get(connection.connector)?.module.inbound;
    if (!connection || !inbound) {
      this.logger.log({ msg: 'webhook refused: no such connection', connection: { id: connectionId }, reasonCode: 'NOT_FOUND', status: 404 });
      throw HubError.notFound('webhook endpoint', connectionId);
    }

    const request = { rawBody, headers, url: this.webhookUrl(connectionId) };
    const context = { connectionId, config: connection.config, secrets: connection.secrets };
    const verdict = this.verify(inbound, request, context);
    if (!verdict.ok) {
      this.metrics.webhooks.inc({ connection: connectionId, outcome: 'rejected' });
      this.logger.log({ msg: `webhook refused: ${verdict.reason}`, connection: { id: connectionId, name: connection.name }, reasonCode: ReasonCode.SIGNATURE_INVALID, status: 401, reason: verdict.reason });
      throw new HubError(ReasonCode.SIGNATURE_INVALID, `signature rejected: ${verdict.reason}`, 401);
    }

    const { topic, deliveryId, entity } = this.extract(inbound, request, context);
    const result = await this.ingest.submit({ connectionId, topic, vendorDeliveryId: deliveryId, entity, rawBody: rawBody.toString('utf8'), headers: keptHeaders(headers) });
    this.metrics.webhooks.inc({ connection: connectionId, outcome: result.duplicate ? 'duplicate' : 'accepted' });
    this.logger.debug({ msg: result.duplicate ? 'webhook duplicate' : 'webhook accepted', messageId: result.messageId, connection: { id: connectionId, name: connection.name }, topic, vendorDeliveryId: deliveryId ?? null });
    return result;
  }

  /**
   * Verifiers must not throw; one that does anyway (a connector bug, a config it did not expect)
   * stores nothing and answers a structured 503, so the vendor retries once it is fixed.
   */
  private verify(inbound: ConnectorInbound, request: InboundRequest, context: ConnectionContext): VerifyResult {
    try {
      return inbound.verify(request, context);
    } catch (error) {
      this.logger.error(`connection ${context.connectionId}: the verifier failed: ${(error as Error).message}`);
      throw new HubError('INTERNAL', 'the connector could not verify this webhook; nothing was stored, retry later', 503);
    }
  }

  /** The body is authentic here, so an extractor that throws must not lose it: it is stored without topic or dedupe id, and dead-lettered by the transform. */
  private extract(inbound: ConnectorInbound, request: InboundRequest, context: ConnectionContext): ExtractedDelivery {
    try {
      return inbound.extract(request, context);
    } catch (error) {
      this.logger.warn(`connection ${context.connectionId}: the extractor failed, storing the webhook for the transform to dead-letter: ${(error as Error).message}`);
      return { topic: 'unknown' };
    }
  }
}

function keptHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || UNSTORED_HEADERS.has(name)) continue;
    kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return kept;
}
