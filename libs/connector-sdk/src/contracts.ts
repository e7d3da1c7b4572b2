import { CanonicalEvent, ErrorDetail, ReasonCode } from '@omnihub/core';

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

/** The business entity a delivery is about, and how new this copy of it is (for ordering and supersession). */
export interface EntityRef {
  /** Stable within the connection, e.g. `order:6123456789012`. */
  key: string;
  /** Comparable within one key: an RFC 3339 UTC timestamp or a zero-padded counter (`updated_at`, Square's `version`). */
  version?: string;
}

/** What ingress needs to know about a delivery before it is stored. */
export interface ExtractedDelivery {
  /** The vendor's topic (e.g. `orders/create`), mapped to an event type by the manifest or config. */
  topic: string;
  /** The vendor's id for this delivery; repeated ids are duplicates. */
  deliveryId?: string;
  entity?: EntityRef;
}

/** The decode stage's answer: the payload as JSON text for the mapping, or where the body broke. */
export type Decoded = { ok: true; json: string } | { ok: false; message: string; position?: number };

/**
 * The cross-reference store of one connection (the "system"): the hub's canonical key of a thing
 * (a SKU, a location code, an order's key) ↔ that system's own id for it. Persisted by the hub.
 */
export interface CrossReferences {
  externalId(entityType: string, key: string): Promise<string | undefined>;
  /** The reverse lookup: which canonical key this system's id stands for. */
  keyOf(entityType: string, externalId: string): Promise<string | undefined>;
  remember(entityType: string, key: string, externalId: string): Promise<void>;
}

/** A connection's own small persistent state (poll cursors, rotated credentials). Values are JSON. */
export interface ConnectorState {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  /**
   * The next number of a persisted sequence of this connection (1, 2, 3, ...), atomic across
   * processes and never handed out twice: EDI control numbers. `wrapAt` starts it again at 1 after
   * that value (an ISA control number has nine digits).
   */
  nextInSequence(name: string, wrapAt?: number): Promise<number>;
}

/**
 * What a connector's stages that talk to the vendor are given: the connection, an HTTP client,
 * and the connection's stores. Nothing else of the hub is reachable from a connector.
 */
export interface ConnectorContext extends ConnectionContext {
  http: HttpClient;
  timeoutMs: number;
  xrefs: CrossReferences;
  state: ConnectorState;
  /** The vendor's per-operation rate limits (the manifest's `rateLimits`), shared by every process; see `limitedRequest`. */
  rateLimits: RateLimits;
  /** What the partner said of deliveries this connection sent (an EDI 997 of a 940), shown on those deliveries. */
  acknowledgements: DeliveryAcknowledgements;
}

export interface DeliveryAcknowledgement {
  status: 'accepted' | 'partially_accepted' | 'rejected';
  /** The partner's words, for a support engineer: which sets, which error codes. */
  detail?: string;
}

export interface DeliveryAcknowledgements {
  /**
   * Records the partner's acknowledgement of one of this connection's deliveries (the latest
   * wins). False when no delivery with that id went to this connection.
   */
  record(deliveryId: string, acknowledgement: DeliveryAcknowledgement): Promise<boolean>;
}

/**
 * Token buckets, one per operation of this connection: `rate` tokens a second up to `burst`, as
 * vendors publish their usage plans (Amazon's getOrders: 0.0167/s, burst 20).
 */
export interface RateLimits {
  /** Waits until the operation's bucket has a token, and takes it. */
  take(operation: string): Promise<void>;
  /** The vendor told its actual rate (e.g. `x-amzn-RateLimit-Limit`): the bucket refills at that rate from now on. */
  setRate(operation: string, ratePerSecond: number): Promise<void>;
  /** The vendor answered 429: the bucket is emptied and gives nothing for `waitMs` (its Retry-After), or one token's time. */
  throttled(operation: string, waitMs?: number): Promise<void>;
}

/** One message a poll found, as a webhook would have brought it. */
export interface PolledMessage {
  topic: string;
  /** The vendor's id for this version of the thing (dedupe: a repeat is dropped, as a repeated webhook is). */
  deliveryId: string;
  entity?: EntityRef;
  /** The payload as JSON text, stored as the message's body. */
  body: string;
}

/** A page of a poll: its messages, and the cursor that resumes after them. */
export interface PollPage {
  messages: PolledMessage[];
  /** Saved once every message of the page is committed; the next poll (any process, after any restart) starts from it. */
  cursor: unknown;
}

export interface PollContext extends ConnectorContext {
  /** Where the last committed page left off; undefined on the first poll. */
  cursor: unknown;
}

/** For vendors that are polled, not pushed from (Amazon's orders). */
export interface ConnectorPoller {
  /** How often a connection is polled, in ms, from its config; undefined when it is not to be polled. */
  intervalMs(connection: ConnectionContext): number | undefined;
  /**
   * What changed since the cursor, page by page. Throwing ends the poll: the pages already
   * yielded are committed and their cursor saved, and the next poll resumes there.
   */
  poll(context: PollContext): AsyncIterable<PollPage>;
}

export interface ResolveInput {
  /** The message being transformed (an acknowledgement records which message carried it). */
  messageId?: string;
  topic: string;
  /** The payload as JSON text (decoded), exactly as stored: parse it losslessly (vendor ids exceed 2^53). */
  body: string;
  headers: Record<string, string>;
  entity?: EntityRef;
}

/**
 * The resolve stage's answer. `body` is what the mapping reads instead of the webhook (JSON text),
 * stored with the message so that a replay maps it again without fetching. A failure names whether
 * a retry can help; its message carries the vendor's answer.
 */
export type Resolved =
  | { ok: true; body: string }
  | { ok: false; retry: boolean; reason: ReasonCode; message: string; httpStatus?: number; retryAfterMs?: number; details?: ErrorDetail[] };

export interface ConnectorInbound {
  /**
   * False for a vendor that is only polled (its messages come from the poller, never as an HTTP
   * call to the hub): its connections show no webhookUrl, and verify refuses whatever arrives there.
   */
  webhooks?: false;
  /** Pure and total: returns a reason instead of throwing, so a malformed signature is a 401, never a 500. */
  verify(request: InboundRequest, connection: ConnectionContext): VerifyResult;
  extract(request: InboundRequest, connection: ConnectionContext): ExtractedDelivery;
  /** The canonical event type for a topic of this connection, or undefined when it has none. */
  eventTypeFor(topic: string, connection: ConnectionContext): string | undefined;
  /** Raw body → payload, where the body is not JSON (X12). Without it the body is parsed as lossless JSON. Runs in the worker. */
  decode?(body: string, connection: ConnectionContext): Decoded;
  /**
   * For the topics whose manifest entry says `"resolve": true`: fetch what a thin webhook only
   * names, or look up what it names by the vendor's own ids. Runs in the worker's transform stage,
   * never in the HTTP request; never throws for a vendor's answer.
   */
  resolve?(input: ResolveInput, context: ConnectorContext): Promise<Resolved>;
}

/** The HTTP client a connector is given; injected so tests and quotas can wrap it. */
export interface HttpClient {
  request(options: HttpRequest): Promise<HttpResponse>;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface OutboundDelivery extends ConnectorContext {
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
  /**
   * Set when a support engineer replayed the delivery with edited data: a short digest of that
   * data. Vendors that answer a repeated key with the first answer (Shopify's @idempotent) or refuse
   * it with another body (Square) must be given a key that changes with it: use `vendorIdempotencyKey`.
   */
  revision?: string;
  /** The operation's outbound mapping output (canonical → vendor shape), when its manifest entry names a mapping. */
  payload?: unknown;
}

/**
 * The idempotency key to give a vendor API: the delivery id, or, for a replay with edited data,
 * the delivery id and the edit's digest (45 characters at most, within Square's limit). Retries of
 * one content share one key; different content never reuses one.
 */
export function vendorIdempotencyKey(delivery: Pick<OutboundDelivery, 'idempotencyKey' | 'revision'>): string {
  return delivery.revision ? `${delivery.idempotencyKey}-${delivery.revision}` : delivery.idempotencyKey;
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
  | { outcome: 'retry'; reason: ReasonCode; message: string; httpStatus?: number; retryAfterMs?: number; details?: ErrorDetail[] }
  /** `details`: what the vendor refused, field by field (its error paths), kept in the dead letter. */
  | { outcome: 'reject'; reason: ReasonCode; message: string; httpStatus?: number; details?: ErrorDetail[] };

/** One outbound operation: never throws for a vendor's answer, every response and transport error becomes an outcome. */
export type OutboundOperation = (delivery: OutboundDelivery) => Promise<DeliveryOutcome>;

export interface ConnectorOutbound {
  /** By the operation names the manifest's `outbound.operations` dispatch event types to. */
  operations: Record<string, OutboundOperation>;
}

/** What a connector's index module exports. */
export interface ConnectorModule {
  inbound?: ConnectorInbound;
  outbound?: ConnectorOutbound;
  /** Needs `inbound` too: a polled message is transformed as a webhook is (eventTypeFor, decode). */
  poller?: ConnectorPoller;
}
