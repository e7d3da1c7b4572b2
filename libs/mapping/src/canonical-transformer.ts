import { Inject, Injectable } from '@nestjs/common';
import { CanonicalEvent, ErrorDetail, HUB_CONFIG, HubConfig, ReasonCode, isEventType, jsonDepth, parseVendorJson } from '@omnihub/core';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { LiveConnection } from '@omnihub/persistence';
import { CompiledMapping, MappingTimeoutError } from './jsonata-runner';
import { MappingCatalog } from './mapping-catalog';
import { SchemaRegistry } from './schema-registry';

export type TransformOutcome =
  | { ok: true; event: CanonicalEvent }
  | { ok: false; reason: ReasonCode; message: string; details: ErrorDetail[] };

export interface TransformInput {
  messageId: string;
  connection: LiveConnection;
  topic: string;
  body: string;
  headers: Record<string, string>;
  receivedAt: Date;
}

const fail = (reason: ReasonCode, message: string, details: ErrorDetail[] = []): TransformOutcome => ({ ok: false, reason, message, details });

/**
 * Vendor payload → canonical CloudEvent: parse losslessly, apply the connection's mapping, validate
 * against the event type's schema. Pure with respect to the database: the caller stores the outcome.
 */
@Injectable()
export class CanonicalTransformer {
  constructor(
    private readonly catalog: MappingCatalog,
    private readonly schemas: SchemaRegistry,
    private readonly connectors: ConnectorRegistry,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async transform(input: TransformInput): Promise<TransformOutcome> {
    const parsed = this.parse(input.body);
    if (!parsed.ok) return parsed.failure;

    const connector = this.connectors.get(input.connection.connector);
    const topicEntry = connector?.manifest.inbound?.topics.find((t) => t.topic === input.topic);
    const connection = { connectionId: input.connection.id, config: input.connection.config, secrets: input.connection.secrets };
    let eventType = topicEntry?.eventType ?? connector?.module.inbound?.eventTypeFor(input.topic, connection);
    const mappingId = topicEntry?.mapping ?? (input.connection.config.mapping as string | undefined);

    let data: unknown = parsed.value;
    if (mappingId) {
      const mapping = await this.catalog.get(mappingId);
      if (!mapping) return fail(ReasonCode.NO_MAPPING, `mapping "${mappingId}" does not exist`, [{ path: '/config/mapping', message: 'unknown mapping id' }]);
      eventType ??= mapping.targetEventType ?? undefined;
      const mapped = await this.runMapping(mapping.compiled, parsed.value, this.bindings(input));
      if (!mapped.ok) return mapped.failure;
      data = mapped.value;
    }
    if (!eventType || !isEventType(eventType)) {
      return fail(ReasonCode.NO_MAPPING, `topic "${input.topic}" has no canonical event type`, [{ path: '/topic', message: `"${eventType ?? input.topic}" is not a known event type` }]);
    }
    const checked = this.check(eventType, data);
    if (!checked.ok) return checked;
    return {
      ok: true,
      event: {
        specversion: '1.0',
        id: input.messageId,
        source: `/connections/${input.connection.id}`,
        type: eventType,
        time: input.receivedAt.toISOString(),
        datacontenttype: 'application/json',
        dataschema: this.schemas.schemaIdOf(eventType),
        correlationid: input.messageId,
        data: data as Record<string, unknown>,
      },
    };
  }

  /** Dry run for `POST /api/mappings/test`: the mapping's output and what the schema says of it. */
  async dryRun(expression: CompiledMapping, payload: unknown, eventType: string | undefined): Promise<{ output: unknown; errors: ErrorDetail[]; reason?: ReasonCode }> {
    const mapped = await this.runMapping(expression, payload, { topic: 'test', headers: {}, receivedAt: new Date().toISOString(), connection: null });
    if (!mapped.ok) {
      const failure = mapped.failure as Extract<TransformOutcome, { ok: false }>;
      return { output: null, errors: failure.details.length ? failure.details : [{ path: '', message: failure.message }], reason: failure.reason };
    }
    if (!eventType) return { output: mapped.value, errors: [] };
    const checked = this.check(eventType, mapped.value);
    return checked.ok ? { output: mapped.value, errors: [] } : { output: mapped.value, errors: checked.details, reason: checked.reason };
  }

  private check(eventType: string, data: unknown): { ok: true } | Extract<TransformOutcome, { ok: false }> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { ok: false, reason: ReasonCode.SCHEMA_VIOLATION, message: `${eventType} data must be a JSON object`, details: [{ path: '/', message: 'must be object' }] };
    }
    const result = this.schemas.validate(eventType, data);
    if (result.valid) return { ok: true };
    const first = result.details[0];
    return {
      ok: false,
      reason: ReasonCode.SCHEMA_VIOLATION,
      message: `${eventType} data violates its schema${first ? ` at ${first.path}: ${first.message}` : ''}`,
      details: result.details,
    };
  }

  private parse(body: string): { ok: true; value: unknown } | { ok: false; failure: TransformOutcome } {
    const depth = jsonDepth(body);
    if (depth > this.config.maxJsonDepth) {
      return { ok: false, failure: fail(ReasonCode.INVALID_PAYLOAD, `JSON nesting depth ${depth} exceeds the limit of ${this.config.maxJsonDepth}`) };
    }
    try {
      return { ok: true, value: parseVendorJson(body) };
    } catch (error) {
      return { ok: false, failure: fail(ReasonCode.INVALID_PAYLOAD, `body is not valid JSON: ${(error as Error).message}`, [{ path: '', message: (error as Error).message }]) };
    }
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

  private async runMapping(mapping: CompiledMapping, payload: unknown, bindings: Record<string, unknown>): Promise<{ ok: true; value: unknown } | { ok: false; failure: TransformOutcome }> {
    try {
      const value = await mapping.evaluate(payload, bindings, this.config.mappingTimeoutMs);
      return { ok: true, value: value === undefined ? null : normalise(value) };
    } catch (error) {
      const message = error instanceof MappingTimeoutError ? error.message : describeJsonataError(error);
      const position = (error as { position?: number }).position;
      return { ok: false, failure: fail(ReasonCode.MAPPING_ERROR, `mapping failed: ${message}`, [{ path: position !== undefined ? `@${position}` : '', message }]) };
    }
  }
}

/** JSONata returns sequences (arrays with extra flags); a plain JSON copy is what schemas and destinations expect. */
function normalise(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function describeJsonataError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(error));
}
