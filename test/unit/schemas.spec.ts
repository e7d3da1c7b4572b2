import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
// The hub's own list: the schemas must describe exactly the event types the code accepts.
import { EVENT_TYPES, EventType } from '@omnihub/core';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SCHEMA_DIR = path.join(__dirname, '..', '..', 'schemas');
const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'canonical');
const BASE_ID = 'https://omnihub.dev/schemas/';
const ENVELOPE_ID = `${BASE_ID}cloudevent.v1.json`;


function readJson(file: string): Json {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
}

function asObject(value: Json | undefined, what: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not an object`);
  }
  return value;
}

function clone<T extends Json>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Resolves a JSON Pointer to its parent container and last token; throws if the path does not exist. */
function locate(doc: Json, pointer: string): { container: JsonObject | Json[]; key: string } {
  const tokens = pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const key = tokens.pop();
  if (key === undefined) throw new Error(`pointer "${pointer}" has no last token`);
  let node: Json | undefined = doc;
  for (const token of tokens) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (node !== null && typeof node === 'object') node = node[token];
    else node = undefined;
    if (node === undefined) throw new Error(`pointer "${pointer}" does not exist at "${token}"`);
  }
  if (node === null || typeof node !== 'object') throw new Error(`pointer "${pointer}" has no container`);
  return { container: node, key };
}

function setAt(doc: Json, pointer: string, value: Json): void {
  const { container, key } = locate(doc, pointer);
  if (Array.isArray(container)) container[Number(key)] = value;
  else container[key] = value;
}

function removeAt(doc: Json, pointer: string): void {
  const { container, key } = locate(doc, pointer);
  if (Array.isArray(container)) container.splice(Number(key), 1);
  else if (key in container) delete container[key];
  else throw new Error(`pointer "${pointer}" does not exist`);
}

/** "<instancePath> <keyword>[ <property>]", e.g. "/lines/0 required sku" or " unevaluatedProperties orderNo". */
function formatError(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const property = params.missingProperty ?? params.unevaluatedProperty ?? params.additionalProperty;
  return `${error.instancePath} ${error.keyword}${typeof property === 'string' ? ` ${property}` : ''}`;
}

const schemaFiles = fs
  .readdirSync(SCHEMA_DIR)
  .filter((f) => f.endsWith('.json') && f !== 'event-types.json')
  .sort();
const schemas = new Map(schemaFiles.map((f) => [f, asObject(readJson(path.join(SCHEMA_DIR, f)), f)]));
const eventTypes = asObject(readJson(path.join(SCHEMA_DIR, 'event-types.json')), 'event-types.json');

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
for (const schema of schemas.values()) ajv.addSchema(schema);

function validatorFor(id: string): ValidateFunction {
  const fn = ajv.getSchema(id);
  if (!fn) throw new Error(`schema ${id} is not loaded`);
  return fn as ValidateFunction;
}

function schemaFileOf(type: EventType): string {
  const file = eventTypes[type];
  if (typeof file !== 'string') throw new Error(`event-types.json has no schema for ${type}`);
  return file;
}

function fixture(type: EventType): JsonObject {
  return asObject(readJson(path.join(FIXTURE_DIR, `${type}.json`)), `${type} fixture`);
}

function dataOf(type: EventType): JsonObject {
  return clone(asObject(fixture(type).data, `${type} fixture data`));
}

/** Validates and returns the errors, described; [] when valid. */
function check(id: string, instance: Json): string[] {
  const validate = validatorFor(id);
  return validate(instance) ? [] : (validate.errors ?? []).map(formatError);
}

function checkData(type: EventType, data: Json): string[] {
  return check(`${BASE_ID}${schemaFileOf(type)}`, data);
}

describe('canonical schemas: files', () => {
  it.each(schemaFiles)('%s is draft 2020-12 with the $id of its file name', (file) => {
    const schema = schemas.get(file);
    expect(schema?.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema?.$id).toBe(`${BASE_ID}${file}`);
  });

  it('event-types.json names a schema file for exactly the ten v1 event types', () => {
    expect(Object.keys(eventTypes).sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of EVENT_TYPES) expect(schemas.has(schemaFileOf(type))).toBe(true);
  });

  it('the envelope accepts exactly the event types of event-types.json', () => {
    const envelope = asObject(schemas.get('cloudevent.v1.json'), 'cloudevent.v1.json');
    const typeProperty = asObject(asObject(envelope.properties, 'properties').type, 'type');
    expect([...(typeProperty.enum as string[])].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES)('%s: its schema compiles in strict mode and is closed at the top level', (type) => {
    const schema = schemas.get(schemaFileOf(type));
    expect(schema?.unevaluatedProperties).toBe(false);
    expect(typeof validatorFor(`${BASE_ID}${schemaFileOf(type)}`)).toBe('function');
  });
});

describe('canonical schemas: realistic examples are valid', () => {
  it.each(EVENT_TYPES)('%s fixture: envelope and data', (type) => {
    const event = fixture(type);
    expect(event.type).toBe(type);
    expect(event.dataschema).toBe(`${BASE_ID}${schemaFileOf(type)}`);
    expect(check(ENVELOPE_ID, event)).toEqual([]);
    expect(checkData(type, asObject(event.data, 'data'))).toEqual([]);
  });

  const minimalOrder: JsonObject = {
    externalIds: { woocommerce: '727' },
    channel: 'woocommerce',
    orderNumber: '727',
    status: 'open',
    currency: 'EUR',
    createdAt: '2025-03-14T14:21:07.5Z',
    lines: [{ sku: 'TEE-BLK-M', quantity: 1, unitPrice: { amount: '19.9', currency: 'EUR' } }],
    totals: { grandTotal: { amount: '19.9', currency: 'EUR' } },
  };

  const allNull = (data: JsonObject, pointers: string[]): JsonObject => {
    for (const p of pointers) setAt(data, p, null);
    return data;
  };

  const variants: Array<[string, EventType, () => Json]> = [
    ['order with only the required fields', 'order.created', () => clone(minimalOrder)],
    [
      'order with every optional vendor field null',
      'order.updated',
      () =>
        allNull(dataOf('order.updated'), [
          '/sourceName', '/financialStatus', '/fulfillmentStatus', '/fulfillmentType', '/taxesIncluded',
          '/updatedAt', '/cancelledAt', '/cancelReason', '/customer', '/billingAddress', '/shippingAddress',
          '/note', '/lines/0/lineId', '/lines/0/title', '/lines/0/variantTitle', '/lines/0/discount',
          '/lines/0/tax', '/lines/0/total', '/lines/0/requiresShipping', '/totals/subtotal', '/totals/discount',
          '/totals/shipping', '/totals/tax', '/shippingLines/0/title', '/shippingLines/0/code',
        ]),
    ],
    [
      'order address with every field null',
      'order.created',
      () => {
        const data = dataOf('order.created');
        for (const f of ['name', 'company', 'line1', 'line2', 'city', 'region', 'regionCode', 'postalCode', 'countryCode', 'phone']) {
          setAt(data, `/billingAddress/${f}`, null);
        }
        return data;
      },
    ],
    [
      'order line removed by an edit (quantity 0)',
      'order.updated',
      () => {
        const data = dataOf('order.updated');
        setAt(data, '/lines/1/quantity', 0);
        return data;
      },
    ],
    [
      'guest customer without ids, amount with four decimals',
      'order.created',
      () => {
        const data = dataOf('order.created');
        setAt(data, '/customer/externalIds', {});
        setAt(data, '/totals/grandTotal/amount', '84.8800');
        return data;
      },
    ],
    [
      'oversold inventory level (negative available and on hand)',
      'inventory.level',
      () => {
        const data = dataOf('inventory.level');
        setAt(data, '/available', -3);
        setAt(data, '/onHand', -1);
        return data;
      },
    ],
    [
      'inventory level with only the required fields',
      'inventory.level',
      () => ({ item: { sku: 'CRF-600' }, location: { code: 'STORE-12' }, available: 0, asOf: '2025-03-20T19:02:45Z' }),
    ],
    [
      'inventory adjustment without levels after it',
      'inventory.adjusted',
      () => ({ item: { sku: 'CRF-600' }, location: { code: 'STORE-12' }, delta: 12, reason: 'received', asOf: '2025-03-20T19:02:45Z' }),
    ],
    [
      'shipment without tracking',
      'shipment.created',
      () => {
        const data = dataOf('shipment.created');
        setAt(data, '/trackingNumbers', []);
        for (const p of ['/trackingUrl', '/carrier', '/service', '/shippedAt', '/fromLocation', '/status']) setAt(data, p, null);
        return data;
      },
    ],
    [
      'tracking update with only the required fields',
      'tracking.updated',
      () => ({ trackingNumber: '9400111899223856930131', status: 'unknown', updatedAt: '2025-03-17T18:42:10Z' }),
    ],
    [
      'refund without lines (amount only)',
      'refund.created',
      () => {
        const data = dataOf('refund.created');
        removeAt(data, '/lines');
        return data;
      },
    ],
    [
      'refund line adjusting the amount only (quantity 0)',
      'refund.created',
      () => {
        const data = dataOf('refund.created');
        setAt(data, '/lines/0/quantity', 0);
        return data;
      },
    ],
  ];

  it.each(variants)('%s', (_title, type, build) => {
    expect(checkData(type, build())).toEqual([]);
  });
});

interface InvalidCase {
  title: string;
  /** Sets a JSON Pointer in a copy of the fixture data to this value. */
  set?: [string, Json];
  /** Removes a JSON Pointer from the copy. */
  remove?: string;
  /** Expected error, as formatError() formats it. */
  error: string;
}

const invalid: Record<EventType | 'envelope', InvalidCase[]> = {
  'order.created': [
    { title: 'money amount as a float', set: ['/totals/grandTotal/amount', 19.99], error: '/totals/grandTotal/amount type' },
    { title: 'line price amount as a float', set: ['/lines/1/unitPrice/amount', 35], error: '/lines/1/unitPrice/amount type' },
    { title: 'money amount with a comma', set: ['/totals/tax/amount', '4,38'], error: '/totals/tax/amount pattern' },
    { title: 'negative discount', set: ['/lines/0/discount/amount', '-5.78'], error: '/lines/0/discount/amount pattern' },
    { title: 'misspelt money field', set: ['/totals/grandTotal/currencyCode', 'USD'], error: '/totals/grandTotal additionalProperties currencyCode' },
    { title: 'lowercase currency', set: ['/currency', 'usd'], error: '/currency pattern' },
    { title: 'alpha-3 country code', set: ['/shippingAddress/countryCode', 'USA'], error: '/shippingAddress/countryCode pattern' },
    { title: 'misspelt address field', set: ['/billingAddress/zip', '11201'], error: '/billingAddress additionalProperties zip' },
    { title: 'missing line sku', remove: '/lines/0/sku', error: '/lines/0 required sku' },
    { title: 'untrimmed sku', set: ['/lines/0/sku', 'MUG-STN-SLT '], error: '/lines/0/sku pattern' },
    { title: 'missing unit price', remove: '/lines/1/unitPrice', error: '/lines/1 required unitPrice' },
    { title: 'negative line quantity', set: ['/lines/0/quantity', -1], error: '/lines/0/quantity minimum' },
    { title: 'fractional line quantity', set: ['/lines/0/quantity', 1.5], error: '/lines/0/quantity type' },
    { title: 'misspelt line field', set: ['/lines/0/unit_price', { amount: '24.00', currency: 'USD' }], error: '/lines/0 additionalProperties unit_price' },
    { title: 'no lines', set: ['/lines', []], error: '/lines minItems' },
    { title: 'single line not wrapped in an array', set: ['/lines', { sku: 'CRF-600', quantity: 1 }], error: '/lines type' },
    { title: 'unknown top-level field', set: ['/orderNo', '1042'], error: ' unevaluatedProperties orderNo' },
    { title: 'missing externalIds', remove: '/externalIds', error: ' required externalIds' },
    { title: 'empty externalIds', set: ['/externalIds', {}], error: '/externalIds minProperties' },
    { title: 'numeric external id', set: ['/externalIds/shopify', 5745678901234567000], error: '/externalIds/shopify type' },
    { title: 'missing totals', remove: '/totals', error: ' required totals' },
    { title: 'missing grand total', remove: '/totals/grandTotal', error: '/totals required grandTotal' },
    { title: 'bad status', set: ['/status', 'canceled'], error: '/status enum' },
    { title: 'bad financial status', set: ['/financialStatus', 'PAID'], error: '/financialStatus enum' },
    { title: 'bad fulfillment status', set: ['/fulfillmentStatus', 'shipped'], error: '/fulfillmentStatus enum' },
    { title: 'bad fulfillment type', set: ['/fulfillmentType', 'shipping'], error: '/fulfillmentType enum' },
    { title: 'channel that is not a connector id', set: ['/channel', 'Shopify Store'], error: '/channel pattern' },
    { title: 'timestamp not in UTC', set: ['/createdAt', '2025-03-14T10:21:07-04:00'], error: '/createdAt pattern' },
    { title: 'timestamp that is no date-time', set: ['/createdAt', '14/03/2025 14:21'], error: '/createdAt format' },
    { title: 'missing createdAt', remove: '/createdAt', error: ' required createdAt' },
    { title: 'tags as one string', set: ['/tags', 'spring-sale, first-order'], error: '/tags type' },
  ],
  'order.updated': [
    { title: 'missing order number', remove: '/orderNumber', error: ' required orderNumber' },
    { title: 'customer email as a number', set: ['/customer/email', 42], error: '/customer/email type' },
    { title: 'shipping line price as a float', set: ['/shippingLines/0/price/amount', 7.5], error: '/shippingLines/0/price/amount type' },
  ],
  'order.cancelled': [
    { title: 'missing status', remove: '/status', error: ' required status' },
    { title: 'cancelledAt as epoch millis', set: ['/cancelledAt', 1741961529000], error: '/cancelledAt type' },
    { title: 'bad status', set: ['/status', 'voided'], error: '/status enum' },
  ],
  'inventory.level': [
    { title: 'missing item sku', remove: '/item/sku', error: '/item required sku' },
    { title: 'missing location code', remove: '/location/code', error: '/location required code' },
    { title: 'fractional available', set: ['/available', 3.5], error: '/available type' },
    { title: 'available as a string', set: ['/available', '37'], error: '/available type' },
    { title: 'missing available', remove: '/available', error: ' required available' },
    { title: 'missing asOf', remove: '/asOf', error: ' required asOf' },
    { title: 'unknown top-level field', set: ['/qty', 37], error: ' unevaluatedProperties qty' },
    { title: 'location external id as a number', set: ['/location/externalIds/shopify', 71234567890], error: '/location/externalIds/shopify type' },
  ],
  'inventory.adjusted': [
    { title: 'bad reason', set: ['/reason', 'broken'], error: '/reason enum' },
    { title: 'missing delta', remove: '/delta', error: ' required delta' },
    { title: 'delta as a string', set: ['/delta', '-2'], error: '/delta type' },
    { title: 'missing reason', remove: '/reason', error: ' required reason' },
    { title: 'unknown top-level field', set: ['/adjustment', -2], error: ' unevaluatedProperties adjustment' },
  ],
  'shipment.created': [
    { title: 'zero line quantity', set: ['/lines/0/quantity', 0], error: '/lines/0/quantity minimum' },
    { title: 'missing line sku', remove: '/lines/1/sku', error: '/lines/1 required sku' },
    { title: 'missing order reference ids', remove: '/orderRef/externalIds', error: '/orderRef required externalIds' },
    { title: 'bad status', set: ['/status', 'delivered'], error: '/status enum' },
    { title: 'tracking numbers as one string', set: ['/trackingNumbers', '1Z999AA10123456784'], error: '/trackingNumbers type' },
    { title: 'shippedAt not in UTC', set: ['/shippedAt', '2025-03-15T09:12:30-04:00'], error: '/shippedAt pattern' },
    { title: 'unknown top-level field', set: ['/trackingCompany', 'UPS'], error: ' unevaluatedProperties trackingCompany' },
  ],
  'tracking.updated': [
    { title: 'bad status', set: ['/status', 'InTransit'], error: '/status enum' },
    { title: 'bad event status', set: ['/events/1/status', 'arrived'], error: '/events/1/status enum' },
    { title: 'missing tracking number', remove: '/trackingNumber', error: ' required trackingNumber' },
    { title: 'event time that is no date-time', set: ['/events/0/at', '2025-03-15 13:12'], error: '/events/0/at format' },
    { title: 'missing updatedAt', remove: '/updatedAt', error: ' required updatedAt' },
    { title: 'unknown top-level field', set: ['/trackingCode', '1Z999AA10123456784'], error: ' unevaluatedProperties trackingCode' },
  ],
  'return.requested': [
    { title: 'bad status', set: ['/status', 'pending'], error: '/status enum' },
    { title: 'zero line quantity', set: ['/lines/0/quantity', 0], error: '/lines/0/quantity minimum' },
    { title: 'missing line sku', remove: '/lines/0/sku', error: '/lines/0 required sku' },
    { title: 'missing order reference', remove: '/orderRef', error: ' required orderRef' },
  ],
  'return.received': [
    { title: 'receivedAt not in UTC', set: ['/receivedAt', '2025-03-20T14:58:37-04:00'], error: '/receivedAt pattern' },
    { title: 'missing lines', remove: '/lines', error: ' required lines' },
    { title: 'unknown top-level field', set: ['/rma', 'R1'], error: ' unevaluatedProperties rma' },
  ],
  'refund.created': [
    { title: 'amount as a float', set: ['/amount/amount', 22.38], error: '/amount/amount type' },
    { title: 'negative amount', set: ['/amount/amount', '-22.38'], error: '/amount/amount pattern' },
    { title: 'restock as a string', set: ['/lines/0/restock', 'yes'], error: '/lines/0/restock type' },
    { title: 'negative line quantity', set: ['/lines/0/quantity', -1], error: '/lines/0/quantity minimum' },
    { title: 'missing createdAt', remove: '/createdAt', error: ' required createdAt' },
    { title: 'shipping refund with a bad currency', set: ['/shippingRefund', { amount: '7.50', currency: 'US' }], error: '/shippingRefund/currency pattern' },
    { title: 'unknown top-level field', set: ['/refundAmount', '22.38'], error: ' unevaluatedProperties refundAmount' },
  ],
  envelope: [
    { title: 'bad specversion', set: ['/specversion', '0.3'], error: '/specversion const' },
    { title: 'unknown event type', set: ['/type', 'order.deleted'], error: '/type enum' },
    { title: 'missing correlationid', remove: '/correlationid', error: ' required correlationid' },
    { title: 'misspelt extension', set: ['/correlationId', 'x'], error: ' additionalProperties correlationId' },
    { title: 'data as an array', set: ['/data', []], error: '/data type' },
    { title: 'sequence as a number', set: ['/sequence', 5], error: '/sequence type' },
    { title: 'dataschema outside the hub', set: ['/dataschema', 'https://example.com/order.json'], error: '/dataschema pattern' },
    { title: 'time not in UTC', set: ['/time', '2025-03-14T10:21:09-04:00'], error: '/time pattern' },
  ],
};

function mutated(base: JsonObject, c: InvalidCase): JsonObject {
  const doc = clone(base);
  if (c.set) setAt(doc, c.set[0], c.set[1]);
  if (c.remove) removeAt(doc, c.remove);
  return doc;
}

describe('canonical schemas: invalid data is rejected at the right place', () => {
  const rows = EVENT_TYPES.flatMap((type) => invalid[type].map((c) => [type, c.title, c] as const));

  it.each(rows)('%s: %s', (type, _title, c) => {
    expect(checkData(type, mutated(dataOf(type), c))).toContain(c.error);
  });

  it.each(EVENT_TYPES)('%s has at least three invalid cases', (type) => {
    expect(invalid[type].length).toBeGreaterThanOrEqual(3);
  });
});

describe('canonical envelope: invalid envelopes are rejected at the right place', () => {
  it.each(invalid.envelope.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    expect(check(ENVELOPE_ID, mutated(fixture('order.created'), c))).toContain(c.error);
  });
});
