import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { HubError } from '@omnihub/core';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

/** Checks a request body (or a connector's config) against a JSON Schema; every failure names its path. */
export function validateAgainst<T>(schema: object, value: unknown, what: string, pathPrefix = ''): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return value as T;
  const details = (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'required' ? `/${(e.params as { missingProperty: string }).missingProperty}` : e.keyword === 'additionalProperties' ? `/${(e.params as { additionalProperty: string }).additionalProperty}` : '';
    return { path: `${pathPrefix}${e.instancePath}${extra}` || '/', message: e.message ?? e.keyword };
  });
  throw HubError.validation(`${what} is invalid: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details);
}
