import { CanonicalEvent, ReasonCode } from '@omnihub/core';

export type Headers = Record<string, string | string[] | undefined>;

/** What a vendor sent, untouched: signatures are computed over these exact bytes. */
export interface InboundRequest {
  rawBody: Buffer;
  /** Lower-cased header names, as Node gives them. */
  headers: Headers;
  /** The webhook URL as the vendor was given it (Square signs it along with the body). */
  url: string;
}

/** A connection's settings as a connector sees them: plain config and decrypted secrets. */
export interface ConnectionContext {
  connectionId: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** What ingress needs to know about a delivery before it is stored. */
export interface ExtractedDelivery {
  /** The vendor's topic (e.g. `orders/create`), mapped to an event type by the manifest or config. */
  topic: string;
  /** The vendor's id for this delivery; repeated ids are duplicates. */
  deliveryId?: string;
}

export interface ConnectorInbound {
  /** Pure and total: returns a reason instead of throwing, so a malformed signature is a 401, never a 500. */
  verify(request: InboundRequest, connection: ConnectionContext): VerifyResult;
  extract(request: InboundRequest, connection: ConnectionContext): ExtractedDelivery;
  /** The canonical event type for a topic of this connection, or undefined when it has none. */
  eventTypeFor(topic: string, connection: ConnectionContext): string | undefined;
}

/** The HTTP client a connector is given; injected so tests and quotas can wrap it. */
export interface HttpClient {
  request(options: {
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    url: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs: number;
  }): Promise<HttpResponse>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface OutboundDelivery {
  /** The canonical event, parsed from `eventJson` the first time it is read. */
  readonly event: CanonicalEvent;
  /**
   * The same event as JSON text, as the hub stored it. A connector that sends the event as it is
   * sends this: no parse and no second serialisation per delivery.
   */
  readonly eventJson: string;
  /** The event's CloudEvents `id` and `type`, readable without parsing the event. */
  readonly eventId: string;
  readonly eventType: string;
  /** The delivery id: stable across retries and replays, so the destination can drop repeats. */
  idempotencyKey: string;
  connection: ConnectionContext;
  timeoutMs: number;
  http: HttpClient;
}

/** A canonical event as the hub stored it: its text, and the two attributes readable without parsing it. */
export type StoredEvent = Pick<OutboundDelivery, 'eventJson' | 'eventId' | 'eventType'>;

/**
 * An OutboundDelivery over an event's stored text. `event` is parsed on first read (most connectors
 * reshape the event and read it; generic-http forwards the text and never does).
 */
export function outboundDelivery(stored: StoredEvent, rest: Omit<OutboundDelivery, 'event' | keyof StoredEvent>): OutboundDelivery {
  let event: CanonicalEvent | undefined;
  return {
    ...rest,
    eventJson: stored.eventJson,
    eventId: stored.eventId,
    eventType: stored.eventType,
    get event(): CanonicalEvent {
      return (event ??= JSON.parse(stored.eventJson) as CanonicalEvent);
    },
  };
}

export type DeliveryOutcome =
  | { outcome: 'delivered'; httpStatus?: number }
  | { outcome: 'retry'; reason: ReasonCode; message: string; httpStatus?: number; retryAfterMs?: number }
  | { outcome: 'reject'; reason: ReasonCode; message: string; httpStatus?: number };

export interface ConnectorOutbound {
  /** Never throws for a vendor's answer: every response and transport error becomes an outcome. */
  deliver(delivery: OutboundDelivery): Promise<DeliveryOutcome>;
}

/** What a connector's index module exports. */
export interface ConnectorModule {
  inbound?: ConnectorInbound;
  outbound?: ConnectorOutbound;
}
