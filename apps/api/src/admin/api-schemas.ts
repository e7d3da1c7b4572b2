import { ReasonCode } from '@omnihub/core';
import { MANIFEST_SCHEMA } from '@omnihub/connector-sdk';
import { API_ROLES, DEFAULT_DELIVERY_SETTINGS, DeliveryStatus, MessageStatus } from '@omnihub/persistence';
import { namedSchema } from '../http/openapi';

/**
 * What the admin API answers, for the OpenAPI document (client generators build their types from
 * these). JSON Schema like the request bodies, translated the same way; test/e2e/openapi.e2e.spec.ts
 * checks real answers against them, so a field added to a view without its schema shows up there.
 */

const timestamp = { type: 'string', format: 'date-time' };
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' };
const nullableText = { type: ['string', 'null'] };
const reasonCode = { enum: Object.values(ReasonCode) };
const nullableReasonCode = { enum: [...Object.values(ReasonCode), null] };
const counts = { type: 'object', additionalProperties: { type: 'integer' } };
const errorDetails = { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } };
const object = (properties: Record<string, object>, extra: object = {}) => ({ type: 'object', required: Object.keys(properties), properties, ...extra });
const list = (items: object) => object({ items: { type: 'array', items } });

export const API_KEY = namedSchema('ApiKey', object({ id: { type: 'string' }, name: { type: 'string' }, role: { enum: [...API_ROLES] }, createdAt: timestamp }));
export const API_KEY_CREATED = namedSchema('ApiKeyCreated', {
  allOf: [API_KEY, object({ key: { type: 'string', description: 'The key itself: shown this once, only its hash is kept' } })],
});
export const API_KEY_LIST = namedSchema('ApiKeyList', list(API_KEY));

const { additionalProperties: _closed, ...manifest } = MANIFEST_SCHEMA;
export const CONNECTOR_LIST = namedSchema(
  'ConnectorList',
  list({ ...manifest, required: [...manifest.required, 'capabilities'], properties: { ...manifest.properties, capabilities: object({ inbound: { type: 'boolean' }, outbound: { type: 'boolean' } }) } }),
);

const deliverySettings = object(Object.fromEntries(Object.entries(DEFAULT_DELIVERY_SETTINGS).map(([name, value]) => [name, { type: typeof value === 'boolean' ? 'boolean' : 'integer' }])));
const circuit = {
  type: ['object', 'null'],
  description: "A destination's circuit breaker; null while closed",
  required: ['state', 'openedAt', 'probeAt', 'calls', 'failures'],
  properties: { state: { enum: ['open', 'half_open'] }, openedAt: timestamp, probeAt: timestamp, calls: { type: 'integer' }, failures: { type: 'integer' } },
};
const connectionProperties = {
  id: { type: 'string' },
  connector: { type: 'string' },
  name: { type: 'string' },
  config: { type: 'object' },
  secrets: { type: ['object', 'null'], additionalProperties: { enum: ['***'] }, description: 'Secret names with "***"; null when they cannot be decrypted under the current HUB_SECRET_KEY' },
  secretsReadable: { type: 'boolean' },
  delivery: deliverySettings,
  webhookUrl: { ...nullableText, description: 'Where the vendor sends webhooks; null for a connector without an inbound side or one that is only polled (amazon-sp)' },
  createdAt: timestamp,
  updatedAt: timestamp,
};
export const CONNECTION = namedSchema('Connection', object(connectionProperties, { properties: { ...connectionProperties, circuit } }));
export const POLL_STATE = namedSchema(
  'PollState',
  object({
    intervalMs: { type: ['integer', 'null'], description: 'How often the connection is polled; null while it is not (paused, or its config polls nothing)' },
    cursor: { description: "Where the last committed page left off, in the connector's own terms (null before the first poll)" },
  }),
);
export const POLL_QUEUED = namedSchema('PollQueued', object({ queued: { type: 'boolean', description: 'False when a poll asked for is already waiting' } }));
export const CONNECTION_LIST = namedSchema('ConnectionList', list({ allOf: [CONNECTION], required: ['circuit'] }));

export const ROUTE = namedSchema(
  'Route',
  object({
    id: { type: 'string' },
    source: object({ connectionId: { type: 'string' } }),
    eventTypes: { type: 'array', items: { type: 'string' } },
    filter: { ...nullableText, description: 'JSONata predicate over the CloudEvent' },
    destination: object({ connectionId: { type: 'string' } }),
    enabled: { type: 'boolean' },
    createdAt: timestamp,
    updatedAt: timestamp,
  }),
);
export const ROUTE_LIST = namedSchema('RouteList', list(ROUTE));

export const MAPPING_LIST = namedSchema('MappingList', list(object({ id: { type: 'string' }, version: { type: 'integer' }, targetEventType: nullableText, updatedAt: timestamp })));
export const MAPPING_VERSION_LIST = namedSchema(
  'MappingVersionList',
  list(object({ version: { type: 'integer' }, expression: { type: 'string' }, targetEventType: nullableText, origin: { type: 'string' }, createdAt: timestamp })),
);
export const MAPPING_PUBLISHED = namedSchema('MappingPublished', object({ id: { type: 'string' }, version: { type: 'integer' }, targetEventType: nullableText, createdAt: timestamp }));
export const MAPPING_TEST_RESULT = namedSchema(
  'MappingTestResult',
  object({
    eventType: nullableText,
    output: { description: 'What the mapping produced' },
    valid: { type: 'boolean' },
    reason: nullableText,
    errors: errorDetails,
    engine: { type: ['string', 'null'], enum: ['compiled', 'jsonata', null] },
  }),
);

export const XREF = namedSchema('CrossReference', object({ system: { type: 'string', description: 'Connection id' }, entityType: { type: 'string' }, key: { type: 'string' }, externalId: { type: 'string' }, updatedAt: timestamp }));
export const XREF_LIST = namedSchema('CrossReferenceList', list(XREF));

const attempt = object({
  id: { type: 'string' },
  deliveryId: { type: 'string' },
  attemptNumber: { type: 'integer' },
  startedAt: timestamp,
  latencyMs: { type: 'integer' },
  httpStatus: { type: ['integer', 'null'] },
  outcome: { enum: ['delivered', 'retry', 'dead_letter', 'superseded'] },
  reasonCode: nullableReasonCode,
  error: nullableText,
  probe: { type: 'boolean', description: "A circuit breaker's probe; spends none of the retry budget" },
});
const deliveryProperties = {
  id: { type: 'string', description: 'Also the Idempotency-Key the destination sees' },
  messageId: { type: 'string' },
  routeId: { type: 'string' },
  eventIndex: { type: 'integer' },
  destinationConnectionId: { type: 'string' },
  entityKey: nullableText,
  entityVersion: nullableText,
  status: { enum: Object.values(DeliveryStatus) },
  attempts: { type: 'integer' },
  roundStartAttempts: { type: 'integer' },
  nextAttemptAt: nullableTimestamp,
  reasonCode: nullableReasonCode,
  lastError: nullableText,
  dataOverride: { type: ['object', 'null'], description: "An operator's edited canonical data (dead-letter replay)" },
  deliveredAt: nullableTimestamp,
  createdAt: timestamp,
  updatedAt: timestamp,
};
export const DELIVERY = namedSchema('Delivery', object(deliveryProperties));
const acknowledgement = {
  ...object({ status: { enum: ['accepted', 'partially_accepted', 'rejected'] }, detail: nullableText, messageId: nullableText, receivedAt: timestamp }),
  type: ['object', 'null'],
  description: "What the partner said of the delivery after taking it (an EDI 997 of a 940); null until it says. In a message's view",
};
/** A delivery in a message's or dead letter's view: `attempts` is the list of attempts, not their count. */
const withAttempts = { ...deliveryProperties, attempts: { type: 'array', items: attempt } };
const deliveryWithAttempts = object(withAttempts, { properties: { ...withAttempts, acknowledgement } });

const messageSummaryProperties = {
  id: { type: 'string' },
  connectionId: { type: 'string' },
  vendorDeliveryId: nullableText,
  topic: { type: 'string' },
  eventType: nullableText,
  status: { enum: Object.values(MessageStatus) },
  reasonCode: nullableReasonCode,
  error: nullableText,
  receivedAt: timestamp,
  updatedAt: timestamp,
};
const messageProperties = {
  ...messageSummaryProperties,
  rawBody: { type: 'string' },
  editedBody: nullableText,
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  canonical: { description: 'How the canonical events are stored (one, several, or null); read `events` instead' },
  entityKey: nullableText,
  entityVersion: nullableText,
  resolvedBody: { ...nullableText, description: 'What a resolve stage fetched' },
  transformAttempts: { type: 'integer' },
  nextAttemptAt: nullableTimestamp,
};
export const MESSAGE = namedSchema('Message', object(messageProperties));
export const MESSAGE_LIST = namedSchema('MessageList', list(object(messageSummaryProperties)));

const cloudEvent = object(
  { specversion: { type: 'string' }, id: { type: 'string' }, source: { type: 'string' }, type: { type: 'string' }, time: timestamp, data: { type: 'object' } },
  { description: 'A canonical event (CloudEvents 1.0)' },
);
const deadLetterProperties = {
  id: { type: 'string' },
  subjectId: { type: 'string', description: 'The delivery (deliver stage) or the message (transform stage) that failed' },
  stage: { enum: ['transform', 'deliver'] },
  messageId: { type: 'string' },
  deliveryId: nullableText,
  connectionId: { type: 'string' },
  reasonCode,
  error: { type: 'string' },
  fingerprint: { type: 'string', description: 'The same for every occurrence of one failure' },
  details: errorDetails,
  status: { enum: ['open', 'replayed', 'discarded'] },
  replayCount: { type: 'integer' },
  discardReason: nullableText,
  createdAt: timestamp,
  updatedAt: timestamp,
};
export const DEAD_LETTER = namedSchema('DeadLetter', object(deadLetterProperties));
export const DEAD_LETTER_LIST = namedSchema('DeadLetterList', list(DEAD_LETTER));
export const DEAD_LETTER_DETAIL = namedSchema(
  'DeadLetterDetail',
  object({ ...deadLetterProperties, message: MESSAGE, delivery: { ...deliveryWithAttempts, type: ['object', 'null'], description: 'null at the transform stage' } }),
);
export const MESSAGE_DETAIL = namedSchema(
  'MessageDetail',
  object({ ...messageProperties, events: { type: 'array', items: cloudEvent }, deliveries: { type: 'array', items: deliveryWithAttempts }, deadLetters: { type: 'array', items: DEAD_LETTER } }),
);
export const BULK_REPLAY_RESULT = namedSchema(
  'BulkReplayResult',
  object({ queued: { type: 'integer' }, skipped: { type: 'array', items: object({ id: { type: 'string' }, reason: { type: 'string' } }), description: 'Dead letters that could not be replayed, and why' } }),
);

const latency = { type: ['number', 'null'] };
export const STATS = namedSchema(
  'Stats',
  object({
    window: object({ from: timestamp, to: timestamp }),
    connections: {
      type: 'array',
      items: object({
        connectionId: { type: 'string' },
        inbound: object({ received: { type: 'integer' }, perMinute: { type: 'number' }, byStatus: counts }),
        outbound: object({
          attempts: { ...counts, description: 'Attempts by outcome' },
          deliveredPerMinute: { type: 'number' },
          successRate: { type: ['number', 'null'] },
          latencyMs: object({ p50: latency, p95: latency, p99: latency }),
        }),
      }),
    },
    deadLetters: object({
      open: { type: 'integer' },
      byReason: counts,
      byAge: counts,
      olderThan: counts,
      oldestOpenAt: nullableTimestamp,
      byFingerprint: {
        type: 'array',
        items: object({
          fingerprint: { type: 'string' },
          reasonCode: { type: 'string' },
          stage: { enum: ['transform', 'deliver'] },
          count: { type: 'integer' },
          pattern: { type: 'string' },
          example: { type: 'string' },
          firstSeenAt: timestamp,
          lastSeenAt: timestamp,
          connections: { type: 'array', items: object({ id: { type: 'string' }, name: nullableText }) },
        }),
      },
    }),
    undelivered: { type: 'array', items: object({ connectionId: { type: 'string' }, name: nullableText, total: { type: 'integer' }, byStatus: counts }) },
  }),
);
