export const SYSTEM_KINDS = ['ecommerce', 'pos', 'marketplace', 'wms', 'tms', 'erp', 'generic'] as const;
export type SystemKind = (typeof SYSTEM_KINDS)[number];

export interface ConnectorManifest {
  id: string;
  name: string;
  kind: SystemKind;
  version: string;
  description?: string;
  inbound?: {
    /**
     * Vendor topics and the canonical event each becomes, with the mapping that shapes it. A
     * `control` topic (an EDI 997) becomes no event: its resolve stage does what it says (marks the
     * deliveries it acknowledges), and the message completes.
     */
    topics: Array<{ topic: string; eventType?: string; mapping?: string; resolve?: boolean; control?: boolean }>;
  };
  outbound?: {
    /** Canonical event type (or `*`) → the module's operation, with the outbound mapping (canonical → vendor body) it runs first. */
    operations: Array<{ eventType: string; operation: string; mapping?: string }>;
  };
  /** Per-operation token buckets (requests per second, burst), as the vendor's usage plans say. */
  rateLimits?: Record<string, { rate: number; burst: number }>;
  /** JSON Schemas of the connection's `config` and `secrets` objects. */
  config: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

/** The JSON Schema every connectors/<id>/manifest.json is checked against at boot and in CI. */
export const MANIFEST_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['id', 'name', 'kind', 'version', 'config', 'secrets'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    id: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    name: { type: 'string', minLength: 1 },
    kind: { enum: [...SYSTEM_KINDS] },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$' },
    description: { type: 'string' },
    inbound: {
      type: 'object',
      required: ['topics'],
      additionalProperties: false,
      properties: {
        topics: {
          type: 'array',
          items: {
            type: 'object',
            required: ['topic'],
            additionalProperties: false,
            properties: { topic: { type: 'string' }, eventType: { type: 'string' }, mapping: { type: 'string' }, resolve: { type: 'boolean' }, control: { const: true } },
            // An event type, or a control topic handled by its resolve stage alone.
            anyOf: [
              { required: ['eventType'], not: { required: ['control'] } },
              { required: ['control', 'resolve'], properties: { resolve: { const: true } }, not: { anyOf: [{ required: ['eventType'] }, { required: ['mapping'] }] } },
            ],
          },
        },
      },
    },
    outbound: {
      type: 'object',
      required: ['operations'],
      additionalProperties: false,
      properties: {
        operations: {
          type: 'array',
          items: {
            type: 'object',
            required: ['eventType', 'operation'],
            additionalProperties: false,
            properties: { eventType: { type: 'string' }, operation: { type: 'string' }, mapping: { type: 'string' } },
          },
        },
      },
    },
    rateLimits: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['rate', 'burst'],
        additionalProperties: false,
        properties: { rate: { type: 'number', minimum: 0.0001, description: 'Requests per second' }, burst: { type: 'integer', minimum: 1 } },
      },
    },
    config: { type: 'object', required: ['type'], properties: { type: { const: 'object' } } },
    secrets: { type: 'object', required: ['type'], properties: { type: { const: 'object' } } },
  },
} as const;

export type OutboundOperationEntry = NonNullable<ConnectorManifest['outbound']>['operations'][number];

/** The operation a destination runs for an event type: an exact entry first, then `*`. */
export function operationFor(manifest: ConnectorManifest, eventType: string): OutboundOperationEntry | undefined {
  const operations = manifest.outbound?.operations ?? [];
  return operations.find((o) => o.eventType === eventType) ?? operations.find((o) => o.eventType === '*');
}

/**
 * Every connection accepts `config.baseUrl`, so that outbound and fetch-back calls can go to a
 * sandbox, a proxy or a test's fake server. Added to each manifest's config schema at load.
 */
export const BASE_URL_PROPERTY = {
  type: 'string',
  format: 'uri',
  pattern: '^https?://',
  description: "Base URL of the vendor's API (sandbox, proxy or test server) instead of the connector's default.",
} as const;

/**
 * The config properties holding an address the hub sends requests to, checked against the
 * destination policy when a connection is saved: every top-level `format: "uri"` string, so a new
 * one is checked without anyone remembering to, unless its schema says `"x-hub-calls": false`
 * (Square's `notificationUrl` is the hub's own URL as Square signs it, never called).
 */
export function calledUrlProperties(config: Record<string, unknown>): string[] {
  const properties = (config.properties ?? {}) as Record<string, { format?: unknown; 'x-hub-calls'?: unknown }>;
  return Object.keys(properties).filter((name) => properties[name].format === 'uri' && properties[name]['x-hub-calls'] !== false);
}

/** The vendor API base for a connection: its `config.baseUrl`, else the connector's default; no trailing slash. */
export function baseUrlOf(connection: { config: Record<string, unknown> }, fallback: string): string {
  const configured = typeof connection.config.baseUrl === 'string' && connection.config.baseUrl ? connection.config.baseUrl : fallback;
  return configured.replace(/\/+$/, '');
}
