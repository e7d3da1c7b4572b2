/** The v1 event types (DESIGN.md §3). Adding one means adding its schema to schemas/event-types.json. */
export const EVENT_TYPES = [
  'order.created',
  'order.updated',
  'order.cancelled',
  'inventory.level',
  'inventory.adjusted',
  'shipment.created',
  'tracking.updated',
  'return.requested',
  'return.received',
  'refund.created',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/** CloudEvents 1.0 structured envelope plus the hub's extensions. */
export interface CanonicalEvent<TData = JsonObject> {
  specversion: '1.0';
  id: string;
  source: string;
  type: EventType;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  dataschema: string;
  /** The message id: follows the event through every delivery and log line. */
  correlationid: string;
  sequence?: string;
  data: TData;
}

/**
 * A JSON object as stored in a JSON column. Values are `any` rather than `unknown` because TypeORM's
 * deep-partial update types cannot be satisfied by `unknown`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
