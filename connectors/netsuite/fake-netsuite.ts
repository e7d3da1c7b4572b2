import { OAuth1Credentials, oauth1BaseString, oauth1Signature, parseOAuth1Authorization, safeEqual } from '@omnihub/connector-sdk';
import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

/**
 * A stand-in for SuiteTalk REST (record service) for unit and e2e tests. It checks token-based
 * authentication for real: the OAuth 1.0a header's realm, keys, HMAC-SHA256 signature (recomputed
 * over the request as it arrived), timestamp and nonce (a reused nonce is refused, as NetSuite
 * does). Sales orders and credit memos are kept by internal id and external id: PUT eid: creates or
 * replaces and answers 204 with a Location naming the internal id; PATCH by internal id (or eid:)
 * changes fields; GET reads. Bodies are checked the way NetSuite refuses them: RFC 7807 problems
 * with o:errorDetails (INVALID_CONTENT with o:errorPath for an unknown item, customer or sales
 * order, or a money or quantity that is not a JSON number).
 */

export type NetSuiteRecord = Record<string, unknown>;

export interface FakeNetSuiteOptions {
  accountId?: string;
  credentials?: OAuth1Credentials;
  /** Item internal id → its external id (the SKU); lines may name either. */
  items?: Record<string, string>;
  /** Customer internal ids an `entity` may name. */
  customers?: string[];
}

export interface StoredRecord {
  id: string;
  externalId?: string;
  fields: NetSuiteRecord;
}

export interface FakeNetSuiteState {
  readonly accountId: string;
  readonly credentials: OAuth1Credentials;
  readonly items: Map<string, string>;
  readonly customers: Set<string>;
  /** By record type (`salesOrder`, `creditMemo`), by internal id. */
  readonly records: Map<string, Map<string, StoredRecord>>;
  /** Set to answer upserts without a Location header (the connector must then read the record back). */
  answerWithoutLocation: boolean;
}

export interface FakeNetSuite {
  server: FakeVendorServer;
  state: FakeNetSuiteState;
  /** Base URL to put in a connection's `config.baseUrl`. */
  url: string;
  /** The records of one type, in creation order. */
  recordsOf(recordType: string): StoredRecord[];
  /** The record calls (auth refusals included), as `METHOD path` without the /services/rest/record/v1 prefix. */
  calls(): string[];
  close(): Promise<void>;
}

export const TEST_CREDENTIALS: OAuth1Credentials = { consumerKey: 'ns-consumer-key', consumerSecret: 'ns-consumer-secret', token: 'ns-token-id', tokenSecret: 'ns-token-secret' };
const RECORD_PREFIX = '/services/rest/record/v1/';
/** NetSuite refuses a timestamp this far from its clock. */
const TIMESTAMP_WINDOW_S = 300;
const FIRST_INTERNAL_ID = 5001;

const problem = (status: number, title: string, ...details: Array<{ detail: string; code: string; path?: string }>): VendorReply => ({
  status,
  headers: { 'content-type': 'application/vnd.oracle.resource+json; type=error' },
  body: {
    type: status === 429 ? 'https://www.rfc-editor.org/rfc/rfc6585.html#section-4' : `https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.${status - 399}`,
    title,
    status,
    'o:errorDetails': details.map((d) => ({ detail: d.detail, 'o:errorCode': d.code, ...(d.path ? { 'o:errorPath': d.path } : {}) })),
  },
});

const invalidLogin = (): VendorReply =>
  problem(401, 'Unauthorized', { detail: 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.', code: 'INVALID_LOGIN' });

const invalidContent = (path: string, value: unknown): VendorReply =>
  problem(400, 'Bad Request', { detail: `Error while accessing a resource. You have entered an Invalid Field Value ${String(value)} for the following field: ${path.split('.').pop()?.replace(/\[\d+\]$/, '')}`, code: 'INVALID_CONTENT', path });

const notFound = (what: string): VendorReply => problem(404, 'Not Found', { detail: `The record instance does not exist. Provide a valid record instance ID. (${what})`, code: 'NONEXISTENT_ID' });

/** The answer NetSuite gives over the account's concurrency limit, for `server.queue(...)`. */
export function concurrencyLimitExceeded(retryAfterSeconds?: number): VendorReply {
  const reply = problem(429, 'Too Many Requests', { detail: 'Request blocked by the concurrency limit of the account. Retry later.', code: 'CONCURRENCY_LIMIT_EXCEEDED' });
  return retryAfterSeconds === undefined ? reply : { ...reply, headers: { ...reply.headers, 'retry-after': String(retryAfterSeconds) } };
}

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

export async function startFakeNetSuite(options: FakeNetSuiteOptions = {}): Promise<FakeNetSuite> {
  const state: FakeNetSuiteState = {
    accountId: options.accountId ?? '1234567_SB1',
    credentials: options.credentials ?? TEST_CREDENTIALS,
    items: new Map(Object.entries(options.items ?? {})),
    customers: new Set(options.customers ?? []),
    records: new Map([
      ['salesOrder', new Map()],
      ['creditMemo', new Map()],
    ]),
    answerWithoutLocation: false,
  };
  const usedNonces = new Set<string>();
  let nextId = FIRST_INTERNAL_ID;
  let url = '';

  /** Token-based authentication as NetSuite checks it; undefined when the request may pass. */
  const refusal = (request: VendorRequest): VendorReply | undefined => {
    const header = request.headers.authorization;
    const oauth = parseOAuth1Authorization(Array.isArray(header) ? header[0] : header);
    if (!oauth) return invalidLogin();
    const { credentials } = state;
    if (oauth.realm !== state.accountId || oauth.oauth_consumer_key !== credentials.consumerKey || oauth.oauth_token !== credentials.token) return invalidLogin();
    if (oauth.oauth_signature_method !== 'HMAC-SHA256' || oauth.oauth_version !== '1.0' || !oauth.oauth_nonce || !oauth.oauth_signature) return invalidLogin();
    if (!/^\d+$/.test(oauth.oauth_timestamp ?? '') || Math.abs(Number(oauth.oauth_timestamp) - Date.now() / 1000) > TIMESTAMP_WINDOW_S) return invalidLogin();
    const signed = Object.entries(oauth).filter(([name]) => name !== 'realm' && name !== 'oauth_signature');
    const expected = oauth1Signature(oauth1BaseString(request.method, `http://${request.headers.host}${request.path}`, signed), credentials.consumerSecret, credentials.tokenSecret);
    if (!safeEqual(expected, oauth.oauth_signature)) return invalidLogin();
    if (usedNonces.has(oauth.oauth_nonce)) return invalidLogin();
    usedNonces.add(oauth.oauth_nonce);
    return undefined;
  };

  /** Why NetSuite would refuse this body for a record of the type, as a 7807 answer. */
  const invalidBody = (recordType: string, body: Record<string, unknown>): VendorReply | undefined => {
    const entity = asObject(body.entity);
    if (entity && !state.customers.has(String(entity.id))) return invalidContent('entity', entity.id);
    if (recordType === 'creditMemo') {
      const from = asObject(body.createdFrom);
      if (!from || !state.records.get('salesOrder')!.has(String(from.id))) return invalidContent('createdFrom', from?.id ?? from?.externalId);
    }
    for (const field of ['shippingCost']) if (field in body && typeof body[field] !== 'number') return invalidContent(field, body[field]);
    const lines = asObject(body.item)?.items;
    if (lines !== undefined && !Array.isArray(lines)) return invalidContent('item.items', JSON.stringify(lines));
    for (const [i, line] of (lines ?? []).entries()) {
      const item = asObject(asObject(line)?.item);
      const known = item && (state.items.has(String(item.id)) || [...state.items.values()].includes(String(item.externalId)));
      if (!known) return invalidContent(`item.items[${i}].item`, item?.id ?? item?.externalId);
      for (const field of ['quantity', 'rate', 'amount']) {
        const value = asObject(line)?.[field];
        if (value !== undefined && typeof value !== 'number') return invalidContent(`item.items[${i}].${field}`, value);
      }
    }
    return undefined;
  };

  const locationOf = (recordType: string, id: string) => `${url}${RECORD_PREFIX}${recordType}/${id}`;

  /** `salesOrder/5001` or `salesOrder/eid:shopify-1` → the stored record, if any. */
  const find = (records: Map<string, StoredRecord>, reference: string): StoredRecord | undefined => {
    if (!reference.startsWith('eid:')) return records.get(reference);
    const externalId = reference.slice('eid:'.length);
    return [...records.values()].find((r) => r.externalId === externalId);
  };

  const handle = (request: VendorRequest): VendorReply => {
    const refused = refusal(request);
    if (refused) return refused;
    if (!request.path.startsWith(RECORD_PREFIX)) return notFound(request.path);
    const [route, query = ''] = request.path.slice(RECORD_PREFIX.length).split('?');
    const [recordType, rawReference, ...rest] = route.split('/');
    const records = state.records.get(recordType);
    if (!records || rawReference === undefined || rest.length > 0) return notFound(route);
    const reference = decodeURIComponent(rawReference);
    const existing = find(records, reference);
    const body = asObject(request.json);

    if (request.method === 'GET') {
      if (!existing) return notFound(route);
      const full = { id: existing.id, ...(existing.externalId ? { externalId: existing.externalId } : {}), ...existing.fields };
      const fields = new URLSearchParams(query).get('fields')?.split(',');
      return { status: 200, body: fields ? Object.fromEntries(Object.entries(full).filter(([name]) => fields.includes(name))) : full };
    }
    if (request.method === 'PUT') {
      // Upsert: only by external id.
      if (!reference.startsWith('eid:') || !body) return problem(400, 'Bad Request', { detail: 'Upsert requires an external ID in the URL and a JSON body.', code: 'INVALID_CONTENT' });
      const invalid = invalidBody(recordType, body);
      if (invalid) return invalid;
      const externalId = reference.slice('eid:'.length);
      const { externalId: _ignored, ...fields } = body;
      const record = existing ?? { id: String(nextId++), externalId, fields: {} };
      record.fields = fields;
      records.set(record.id, record);
      return { status: 204, headers: state.answerWithoutLocation ? {} : { location: locationOf(recordType, record.id) } };
    }
    if (request.method === 'PATCH') {
      if (!existing) return notFound(route);
      if (!body) return problem(400, 'Bad Request', { detail: 'The request body must be a JSON object.', code: 'INVALID_CONTENT' });
      const invalid = invalidBody(recordType, { ...existing.fields, ...body });
      if (invalid) return invalid;
      existing.fields = { ...existing.fields, ...body };
      return { status: 204 };
    }
    return problem(405, 'Method Not Allowed', { detail: `${request.method} is not supported on ${recordType}.`, code: 'INVALID_REQUEST' });
  };

  const server = await FakeVendorServer.start(handle);
  url = server.url;
  return {
    server,
    state,
    url,
    recordsOf: (recordType) => [...(state.records.get(recordType)?.values() ?? [])],
    calls: () => server.requests.map((r) => `${r.method} ${r.path.replace(RECORD_PREFIX, '')}`),
    close: () => server.close(),
  };
}
