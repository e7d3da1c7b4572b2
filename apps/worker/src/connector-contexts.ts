import { Inject, Injectable, Logger } from '@nestjs/common';
import { HubMetrics } from '@omnihub/core';
import { ConnectorContext, ConnectorRegistry, DeliveryAcknowledgements, HTTP_CLIENT, HttpClient } from '@omnihub/connector-sdk';
import { ConnectorStateStore, CrossReferenceStore, DeliveryAcknowledgementStore, LiveConnection } from '@omnihub/persistence';
import { TokenBuckets } from '@omnihub/queueing';

/** Builds the context a connector's resolve stage, operations and poller get: the connection, the HTTP client, its own stores and rate limits. */
@Injectable()
export class ConnectorContexts {
  private readonly logger = new Logger(ConnectorContexts.name);

  constructor(
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
    private readonly xrefs: CrossReferenceStore,
    private readonly state: ConnectorStateStore,
    private readonly buckets: TokenBuckets,
    private readonly connectors: ConnectorRegistry,
    private readonly acknowledgements: DeliveryAcknowledgementStore,
    private readonly metrics: HubMetrics,
  ) {}

  /** `messageId`: the message being transformed, when there is one (what an acknowledgement came in). */
  of(connection: LiveConnection, messageId?: string): ConnectorContext {
    return {
      connectionId: connection.id,
      config: connection.config,
      secrets: connection.secrets,
      http: this.http,
      timeoutMs: connection.delivery.timeoutMs,
      xrefs: this.xrefs.forSystem(connection.id),
      state: this.state.forConnection(connection.id),
      rateLimits: this.buckets.forConnection(connection.id, this.connectors.get(connection.connector)?.manifest.rateLimits),
      acknowledgements: this.acknowledged(connection, messageId),
    };
  }

  /** Recorded, counted, and a refusal said at warn: a warehouse that rejects an order must not go unnoticed. */
  private acknowledged(connection: LiveConnection, messageId: string | undefined): DeliveryAcknowledgements {
    const store = this.acknowledgements.forConnection(connection.id, messageId);
    return {
      record: async (deliveryId, acknowledgement) => {
        const recorded = await store.record(deliveryId, acknowledgement);
        if (!recorded) return false;
        this.metrics.acknowledgements.inc({ connection: connection.id, status: acknowledgement.status });
        const log = { msg: `delivery ${acknowledgement.status} by the partner: ${acknowledgement.detail ?? ''}`.trim(), deliveryId, messageId, connection: { id: connection.id, name: connection.name }, status: acknowledgement.status };
        if (acknowledgement.status === 'accepted') this.logger.debug(log);
        else this.logger.warn(log);
        return true;
      },
    };
  }
}
