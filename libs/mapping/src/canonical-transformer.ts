import { createHash } from 'node:crypto';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { CanonicalEvent, ErrorDetail, EventType, HUB_CONFIG, HubConfig, HubMetrics, ReasonCode, isEventType, jsonDepth, parseVendorJson } from '@omnihub/core';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { LiveConnection } from '@omnihub/persistence';
import { MappingTimeoutError } from './jsonata-runner';
import { MappingCatalog } from './mapping-catalog';
import { MappingEngine, MappingThreadPool } from './mapping-threads';
import { SchemaRegistry } from './schema-registry';

export type TransformOutcome =
  /**
   * One event per element when the mapping answers an array (a stock message with several counts),
   * `several` then true even for one element or none; else one event.
   */
  | { ok: true; events: CanonicalEvent[]; several: boolean }
  | { ok: false; reason: ReasonCode; message: string; details: ErrorDetail[] };

export interface TransformInput {
  messageId: string;
  connection: LiveConnection;
  topic: string;
  body: string;
  headers: Record<string, string>;
  receivedAt: Date;
  /** From the connector's extractor: becomes the events' `subject` and `sequence`. */
  entity?: { key: string | null; version: string | null };
}

const fail = (reason: ReasonCode, message: string, details: ErrorDetail[] = []): TransformOutcome => ({ ok: false, reason, message, details });

/**
 * Vendor payload → canonical CloudEvent: parse losslessly, apply the connection's mapping, validate
 * against the event type's schema. Pure with respect to the database: the caller stores the outcome.
 */
@Injectable()
export class CanonicalTransformer implements OnApplicationShutdown {
  private readonly threads: MappingThreadPool;

  constructor(
    private readonly catalog: MappingCatalog,
    private readonly schemas: SchemaRegistry,
    private readonly connectors: ConnectorRegistry,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    private readonly metrics: HubMetrics,
  ) {
    this.threads = new MappingThreadPool(config.mappingThreads);
  }

  /** In the last shutdown phase: the workers stopped before it, so no transform or delivery still maps. */
  async onApplicationShutdown(): Promise<void> {
    await this.threads.close();
  }

  async transform(input: TransformInput): Promise<TransformOutcome> {
    const depthFailure = this.checkDepth(input.body);
    if (depthFailure) return depthFailure;

    const connector = this.connectors.get(input.connection.connector);
    const topicEntry = connector?.manifest.inbound?.topics.find((t) => t.topic === input.topic);
    // A control document (an EDI 997) did its work in the resolve stage and becomes no event.
    if (topicEntry?.control) return { ok: true, events: [], several: true };
    const connection = { connectionId: input.connection.id, config: input.connection.config, secrets: input.connection.secrets };
    let eventType = topicEntry?.eventType ?? connector?.module.inbound?.eventTypeFor(input.topic, connection);
    const mappingId = topicEntry?.mapping ?? (input.connection.config.mapping as string | undefined);

    let data: unknown;
    if (mappingId) {
      const mapping = await this.catalog.get(mappingId);
      if (!mapping) return fail(ReasonCode.NO_MAPPING, `mapping "${mappingId}" does not exist`, [{ path: '/config/mapping', message: 'unknown mapping id' }]);
      eventType ??= mapping.targetEventType ?? undefined;
      const mapped = await this.runMapping(mapping.key, mapping.expression, input.body, this.bindings(input));
      if (!mapped.ok) return mapped.failure;
      data = mapped.value;
    } else {
      try {
        data = parseVendorJson(input.body);
      } catch (error) {
        return invalidJson(error, input.body);
      }
    }
    if (!eventType || !isEventType(eventType)) {
      return fail(ReasonCode.NO_MAPPING, `topic "${input.topic}" has no canonical event type`, [{ path: '/topic', message: `"${eventType ?? input.topic}" is not a known event type` }]);
    }
    const checked = this.checkEach(eventType, data);
    if (!checked.ok) return checked;
    const several = Array.isArray(data);
    const items = (several ? data : [data]) as Array<Record<string, unknown>>;
    return { ok: true, events: items.map((item, i) => this.envelope(input, eventType, item, several ? i : undefined)), several };
  }

  /**
   * The CloudEvent around one event's data. A message that became one event gives it the message's
   * id; one that became several numbers them (`<message id>:<index>`), so each id stays unique and
   * still names its message.
   */
  private envelope(input: TransformInput, eventType: EventType, data: Record<string, unknown>, index: number | undefined): CanonicalEvent {
    const event: CanonicalEvent = {
      specversion: '1.0',
      id: index === undefined ? input.messageId : `${input.messageId}:${index}`,
      source: `/connections/${input.connection.id}`,
      type: eventType,
      time: input.receivedAt.toISOString(),
      datacontenttype: 'application/json',
      dataschema: this.schemas.schemaIdOf(eventType),
      correlationid: input.messageId,
      data,
    };
    if (input.entity?.key && index === undefined) event.subject = input.entity.key;
    if (input.entity?.version && index === undefined) event.sequence = input.entity.version;
    return event;
  }

  /** Dry run for `POST /api/mappings/test`: the mapping's output and what the schema says of it. */
  async dryRun(expression: string, payloadText: string, eventType: string | undefined): Promise<{ output: unknown; errors: ErrorDetail[]; reason?: ReasonCode; engine?: MappingEngine }> {
    const depthFailure = this.checkDepth(payloadText);
    if (depthFailure && !depthFailure.ok) return { output: null, errors: depthFailure.details.length ? depthFailure.details : [{ path: '', message: depthFailure.message }], reason: depthFailure.reason };
    // Keyed by content, so a dry run compiles each distinct expression once per thread.
    const key = `dry-run:${createHash('sha256').update(expression).digest('hex')}`;
    const mapped = await this.runMapping(key, expression, payloadText, { topic: 'test', headers: {}, receivedAt: new Date().toISOString(), connection: null });
    if (!mapped.ok) {
      const failure = mapped.failure as Extract<TransformOutcome, { ok: false }>;
      return { output: null, errors: failure.details.length ? failure.details : [{ path: '', message: failure.message }], reason: failure.reason };
    }
    const engine = mapped.engine;
    if (!eventType) return { output: mapped.value, errors: [], engine };
    const checked = this.checkEach(eventType, mapped.value);
    return checked.ok ? { output: mapped.value, errors: [], engine } : { output: mapped.value, errors: checked.details, reason: checked.reason, engine };
  }

  /**
   * An outbound operation's mapping (canonical event → vendor body), on the mapping threads like
   * inbound ones. The event is read as stored; the mapping sees `$connection` (the destination's
   * plain config, never its secrets).
   */
  async mapOutbound(mappingId: string, eventJson: string, connection: Pick<LiveConnection, 'id' | 'name' | 'connector' | 'config'>): Promise<{ ok: true; value: unknown } | { ok: false; reason: ReasonCode; message: string }> {
    const mapping = await this.catalog.get(mappingId);
    if (!mapping) return { ok: false, reason: ReasonCode.NO_MAPPING, message: `outbound mapping "${mappingId}" does not exist` };
    const bindings = { connection: { id: connection.id, name: connection.name, connector: connection.connector, config: connection.config } };
    const mapped = await this.runMapping(mapping.key, mapping.expression, eventJson, bindings);
    if (mapped.ok) return { ok: true, value: mapped.value };
    const failure = mapped.failure as Extract<TransformOutcome, { ok: false }>;
    return { ok: false, reason: failure.reason, message: `outbound ${failure.message}` };
  }

  /** A mapping's output against the event type's schema: the object, or each element of an array (paths `/<i>/…`). */
  private checkEach(eventType: string, output: unknown): { ok: true } | Extract<TransformOutcome, { ok: false }> {
    if (!Array.isArray(output)) return this.check(eventType, output);
    for (let i = 0; i < output.length; i++) {
      const checked = this.check(eventType, output[i], `/${i}`);
      if (!checked.ok) return checked;
    }
    return { ok: true };
  }

  /** `at` prefixes the paths when the data is one element of a mapping's array output. */
  private check(eventType: string, data: unknown, at = ''): { ok: true } | Extract<TransformOutcome, { ok: false }> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { ok: false, reason: ReasonCode.SCHEMA_VIOLATION, message: `${eventType} data must be a JSON object`, details: [{ path: at || '/', message: 'must be object' }] };
    }
    const result = this.schemas.validate(eventType, data);
    if (result.valid) return { ok: true };
    const details = at ? result.details.map((d) => ({ ...d, path: `${at}${d.path}` })) : result.details;
    const first = details[0];
    return {
      ok: false,
      reason: ReasonCode.SCHEMA_VIOLATION,
      message: `${eventType} data violates its schema${first ? ` at ${first.path}: ${first.message}` : ''}`,
      details,
    };
  }

  /** Refuses a hostile deeply nested body before any parser recurses into it. */
  private checkDepth(body: string): Extract<TransformOutcome, { ok: false }> | undefined {
    const depth = jsonDepth(body);
    if (depth <= this.config.maxJsonDepth) return undefined;
    return { ok: false, reason: ReasonCode.INVALID_PAYLOAD, message: `JSON nesting depth ${depth} exceeds the limit of ${this.config.maxJsonDepth}`, details: [] };
  }

  private bindings(input: TransformInput): Record<string, unknown> {
    // Mappings see the connection's plain config, never its secrets.
    return {
      topic: input.topic,
      headers: input.headers,
      receivedAt: input.receivedAt.toISOString(),
      connection: { id: input.connection.id, name: input.connection.name, connector: input.connection.connector, config: input.connection.config },
    };
  }

  /** Parses the body (losslessly) and evaluates the mapping on a mapping thread. */
  private async runMapping(key: string, expression: string, body: string, bindings: Record<string, unknown>): Promise<{ ok: true; value: unknown; engine: MappingEngine } | { ok: false; failure: TransformOutcome }> {
    let outcome;
    try {
      outcome = await this.threads.evaluate(key, expression, body, bindings, this.config.mappingTimeoutMs);
    } catch (error) {
      const message = error instanceof MappingTimeoutError ? error.message : `mapping thread failed: ${(error as Error).message}`;
      return { ok: false, failure: fail(ReasonCode.MAPPING_ERROR, `mapping failed: ${message}`, [{ path: '', message }]) };
    }
    if (outcome.ok) {
      this.metrics.mappingEvaluations.inc({ engine: outcome.engine });
      return { ok: true, value: JSON.parse(outcome.json) as unknown, engine: outcome.engine };
    }
    if (outcome.kind === 'parse') return { ok: false, failure: invalidJson(new Error(outcome.message), body) };
    const where = outcome.position !== undefined ? `@${outcome.position}` : '';
    return { ok: false, failure: fail(ReasonCode.MAPPING_ERROR, `mapping failed: ${outcome.message}`, [{ path: where, message: outcome.message }]) };
  }
}

/** INVALID_PAYLOAD with where the body broke (`@<offset>`): the parser's position, or the end for a body cut short. */
function invalidJson(error: unknown, body: string): TransformOutcome {
  const message = (error as Error).message;
  const position = /position (\d+)/.exec(message)?.[1] ?? (/end of (json )?input/i.test(message) ? String(body.length) : undefined);
  const where = position === undefined ? '' : `@${position}`;
  return fail(ReasonCode.INVALID_PAYLOAD, `body is not valid JSON${where ? ` at ${where}` : ''}: ${message}`, [{ path: where, message }]);
}
