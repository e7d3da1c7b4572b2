import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ErrorDetail, projectRoot } from '@omnihub/core';

const ENVELOPE_SCHEMA_ID = 'https://omnihub.dev/schemas/cloudevent.v1.json';

export type ValidationResult = { valid: true } | { valid: false; details: ErrorDetail[] };

/**
 * The canonical JSON Schemas in schemas/, compiled once at boot into one ajv instance (they $ref
 * each other by $id). `event-types.json` says which schema file each event type's data follows.
 */
export class SchemaRegistry {
  private readonly validators = new Map<string, { schemaId: string; validate: ValidateFunction }>();
  private envelope: ValidateFunction | undefined;

  static load(root = projectRoot()): SchemaRegistry {
    const registry = new SchemaRegistry();
    const dir = path.join(root, 'schemas');
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'event-types.json');
    for (const file of files) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as object);
    const eventTypes = JSON.parse(fs.readFileSync(path.join(dir, 'event-types.json'), 'utf8')) as Record<string, string>;
    for (const [eventType, file] of Object.entries(eventTypes)) {
      const schema = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { $id: string };
      const validate = ajv.getSchema(schema.$id);
      if (!validate) throw new Error(`schemas/${file} (for ${eventType}) did not compile`);
      registry.validators.set(eventType, { schemaId: schema.$id, validate });
    }
    registry.envelope = ajv.getSchema(ENVELOPE_SCHEMA_ID);
    return registry;
  }

  has(eventType: string): boolean {
    return this.validators.has(eventType);
  }

  eventTypes(): string[] {
    return [...this.validators.keys()];
  }

  /** The `dataschema` URI of an event type. */
  schemaIdOf(eventType: string): string {
    const entry = this.validators.get(eventType);
    if (!entry) throw new Error(`no schema for event type ${eventType}`);
    return entry.schemaId;
  }

  /** Checks a whole CloudEvent envelope (its `data` is checked by `validate`). */
  validateEnvelope(event: unknown): ValidationResult {
    if (!this.envelope) throw new Error(`schemas/ has no ${ENVELOPE_SCHEMA_ID}`);
    if (this.envelope(event)) return { valid: true };
    return { valid: false, details: (this.envelope.errors ?? []).map(toDetail) };
  }

  validate(eventType: string, data: unknown): ValidationResult {
    const entry = this.validators.get(eventType);
    if (!entry) return { valid: false, details: [{ path: '', message: `unknown event type "${eventType}"` }] };
    if (entry.validate(data)) return { valid: true };
    return { valid: false, details: (entry.validate.errors ?? []).map(toDetail) };
  }
}

function toDetail(error: ErrorObject): ErrorDetail {
  const missing = error.keyword === 'required' ? `/${(error.params as { missingProperty: string }).missingProperty}` : '';
  const extra = error.keyword === 'unevaluatedProperties' || error.keyword === 'additionalProperties'
    ? `/${(error.params as { unevaluatedProperty?: string; additionalProperty?: string }).unevaluatedProperty ?? (error.params as { additionalProperty?: string }).additionalProperty}`
    : '';
  return { path: `${error.instancePath}${missing}${extra}` || '/', message: error.message ?? error.keyword };
}
