import { Inject, Injectable } from '@nestjs/common';
import { ConnectorContext, HTTP_CLIENT, HttpClient } from '@omnihub/connector-sdk';
import { ConnectorStateStore, CrossReferenceStore, LiveConnection } from '@omnihub/persistence';

/** Builds the context a connector's resolve stage and operations get: the connection, the HTTP client and its own stores. */
@Injectable()
export class ConnectorContexts {
  constructor(
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
    private readonly xrefs: CrossReferenceStore,
    private readonly state: ConnectorStateStore,
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
    };
  }
}
