import { Inject, Injectable } from '@nestjs/common';
import { ConnectorContext, ConnectorRegistry, HTTP_CLIENT, HttpClient } from '@omnihub/connector-sdk';
import { ConnectorStateStore, CrossReferenceStore, LiveConnection } from '@omnihub/persistence';
import { TokenBuckets } from '@omnihub/queueing';

/** Builds the context a connector's resolve stage, operations and poller get: the connection, the HTTP client, its own stores and rate limits. */
@Injectable()
export class ConnectorContexts {
  constructor(
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
    private readonly xrefs: CrossReferenceStore,
    private readonly state: ConnectorStateStore,
    private readonly buckets: TokenBuckets,
    private readonly connectors: ConnectorRegistry,
  ) {}

  of(connection: LiveConnection): ConnectorContext {
    return {
      connectionId: connection.id,
      config: connection.config,
      secrets: connection.secrets,
      http: this.http,
      timeoutMs: connection.delivery.timeoutMs,
      xrefs: this.xrefs.forSystem(connection.id),
      state: this.state.forConnection(connection.id),
      rateLimits: this.buckets.forConnection(connection.id, this.connectors.get(connection.connector)?.manifest.rateLimits),
    };
  }
}
