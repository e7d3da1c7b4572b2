import { ConnectorInbound } from '@omnihub/connector-sdk';
import manifest from './manifest.json';

const EVENT_TYPES = new Map(manifest.inbound.topics.map((t) => [t.topic, t.eventType]));

/**
 * Amazon is polled (see poller.ts), so this side only tells the transform what each polled topic
 * becomes. An amazon-sp connection has no webhook URL (its /webhooks/:id path answers nothing but a
 * refusal): Amazon's own notifications arrive through SQS or EventBridge, never as an HTTP call to the hub.
 */
export const amazonInbound: ConnectorInbound = {
  webhooks: false,
  verify: () => ({ ok: false, reason: 'amazon-sp connections are polled; they take no webhooks' }),
  extract: () => ({ topic: 'unknown' }),
  eventTypeFor: (topic) => EVENT_TYPES.get(topic),
};
