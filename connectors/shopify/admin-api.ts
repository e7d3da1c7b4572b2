import { ReasonCode } from '@omnihub/core';
import {
  ConnectorContext,
  HttpClient,
  VendorFailure,
  authorizedClient,
  failureOfResponse,
  failureOfTransport,
  list,
  parseObject,
  record,
  rejection,
  staticHeader,
  text,
} from '@omnihub/connector-sdk';
import { ShopifySettings, settingsOf } from './settings';

export type GraphqlAnswer<T> = { ok: true; data: T } | { ok: false; failure: VendorFailure };

/** A shop's query-cost leaky bucket as its last answer described it (extensions.cost.throttleStatus). */
interface Bucket {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
  at: number;
}

/** The cost we assume for a query before Shopify has told us its real cost. */
const ASSUMED_QUERY_COST = 10;
/** THROTTLED answers waited out in-process before the attempt gives up and is retried later. */
const MAX_THROTTLED_WAITS = 3;
const buckets = new Map<string, Bucket>();
/**
 * The requestedQueryCost Shopify last gave per shop and operation name: a query's cost depends on
 * its shape (its `first:` sizes), so an expensive one waits for enough points before it is sent
 * instead of being answered THROTTLED first.
 */
const knownCosts = new Map<string, number>();
const OPERATION_NAME = /^\s*(?:query|mutation)\s+(\w+)/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shopify's Admin GraphQL API for one connection. Shopify throttles by query cost: each shop has
 * a bucket of points that refills at a restore rate, and a query that costs more than is left is
 * answered THROTTLED. So the client waits for the bucket to refill (the time its own numbers give)
 * for the query's cost as Shopify last gave it, before sending when the last answer says it is
 * short, and after a THROTTLED answer, rather than backing off for a fixed time. HTTP errors and
 * GraphQL errors come back as failures; userErrors are the caller's to read (they are per mutation).
 */
export class ShopifyAdmin {
  private readonly http: HttpClient | undefined;
  private readonly settings: ShopifySettings;

  constructor(private readonly context: ConnectorContext) {
    const token = context.secrets.accessToken;
    this.http = token ? authorizedClient(context.http, staticHeader('x-shopify-access-token', token)) : undefined;
    this.settings = settingsOf(context);
  }

  get apiVersion(): string {
    return this.settings.apiVersion;
  }

  async graphql<T>(query: string, variables: Record<string, unknown>, call: string): Promise<GraphqlAnswer<T>> {
    if (!this.http) return { ok: false, failure: rejection('the connection has no accessToken secret to call Shopify with', ReasonCode.AUTH_FAILED) };
    const url = `${this.settings.apiBase}/admin/api/${this.settings.apiVersion}/graphql.json`;
    const deadline = Date.now() + this.context.timeoutMs;
    const costKey = `${this.bucketKey()}|${OPERATION_NAME.exec(query)?.[1] ?? call}`;
    let expectedCost = knownCosts.get(costKey) ?? ASSUMED_QUERY_COST;
    for (let waits = 0; ; waits++) {
      await sleep(Math.min(this.waitForBucket(expectedCost), Math.max(0, deadline - Date.now())));
      let response;
      try {
        response = await this.http.request({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ query, variables }),
          timeoutMs: Math.max(1, deadline - Date.now()),
        });
      } catch (error) {
        return { ok: false, failure: failureOfTransport(error, `Shopify ${call}`) };
      }
      const body = parseObject(response.body);
      if (response.status < 200 || response.status >= 300) {
        return { ok: false, failure: failureOfResponse(response, `Shopify ${call} answered HTTP ${response.status}: ${shopifyErrorText(body, response.body)}`) };
      }
      if (!body) return { ok: false, failure: { retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, message: `Shopify ${call} answered HTTP ${response.status} with a body that is not JSON`, httpStatus: response.status } };
      const cost = record(record(body.extensions)?.cost);
      this.remember(cost);
      const requested = Number(cost?.requestedQueryCost);
      if (Number.isFinite(requested) && requested > 0) {
        // What the next try and the next call of this operation must wait for: the real cost, not the assumed one.
        expectedCost = requested;
        knownCosts.set(costKey, requested);
      }
      const errors = list(body.errors)?.map(record).filter((e) => e !== undefined) ?? [];
      if (errors.some((e) => text(record(e.extensions)?.code) === 'THROTTLED')) {
        const waitMs = this.waitForBucket(expectedCost);
        if (waits < MAX_THROTTLED_WAITS && Date.now() + waitMs < deadline) continue;
        return { ok: false, failure: { retry: true, reason: ReasonCode.RATE_LIMITED, message: `Shopify ${call} was THROTTLED: the shop's query-cost bucket refills in ${waitMs} ms`, httpStatus: response.status, retryAfterMs: waitMs } };
      }
      if (errors.length > 0) {
        const denied = errors.some((e) => text(record(e.extensions)?.code) === 'ACCESS_DENIED');
        return { ok: false, failure: rejection(`Shopify ${call} refused the query: ${shopifyErrorText(body, response.body)}`, denied ? ReasonCode.AUTH_FAILED : ReasonCode.DESTINATION_REJECTED, response.status) };
      }
      return { ok: true, data: (record(body.data) ?? {}) as T };
    }
  }

  /** Milliseconds until the shop's bucket holds `cost` points, by the restore rate its last answer gave. */
  private waitForBucket(cost: number): number {
    const bucket = buckets.get(this.bucketKey());
    if (!bucket || bucket.restoreRate <= 0) return 0;
    const now = Date.now();
    const available = Math.min(bucket.maximumAvailable, bucket.currentlyAvailable + (bucket.restoreRate * (now - bucket.at)) / 1000);
    // A cost beyond the bucket's size never fits (Shopify refuses it as MAX_COST_EXCEEDED): no point waiting past a full bucket.
    const needed = Math.min(cost, bucket.maximumAvailable);
    if (available >= needed) return 0;
    return Math.ceil(((needed - available) / bucket.restoreRate) * 1000);
  }

  private remember(cost: Record<string, unknown> | undefined): void {
    const status = record(cost?.throttleStatus);
    if (!status) return;
    const [maximumAvailable, currentlyAvailable, restoreRate] = [status.maximumAvailable, status.currentlyAvailable, status.restoreRate].map(Number);
    if ([maximumAvailable, currentlyAvailable, restoreRate].some((n) => !Number.isFinite(n))) return;
    buckets.set(this.bucketKey(), { maximumAvailable, currentlyAvailable, restoreRate, at: Date.now() });
  }

  private bucketKey(): string {
    return this.settings.apiBase;
  }
}

/** Shopify's `errors` (a string, a list of {message}, or a map of field → messages) as one line. */
export function shopifyErrorText(body: Record<string, unknown> | undefined, raw: string): string {
  const errors = body?.errors;
  if (typeof errors === 'string') return errors;
  const items = list(errors);
  if (items) return items.map((e) => text(record(e)?.message) ?? JSON.stringify(e)).join('; ');
  const byField = record(errors);
  if (byField) return Object.entries(byField).map(([field, messages]) => `${field}: ${[messages].flat().join(', ')}`).join('; ');
  return raw.length > 300 ? `${raw.slice(0, 300)}…` : raw;
}

/** Mutation userErrors as one line naming each field, or undefined when there are none. */
export function userErrorText(payload: Record<string, unknown> | undefined): string | undefined {
  const errors = list(payload?.userErrors)?.map(record).filter((e) => e !== undefined) ?? [];
  if (errors.length === 0) return undefined;
  return errors
    .map((e) => {
      const field = list(e.field)?.join('.');
      const code = text(e.code);
      return `${field ? `${field}: ` : ''}${text(e.message) ?? 'error'}${code ? ` (${code})` : ''}`;
    })
    .join('; ');
}

export const gid = (type: string, id: string): string => (id.startsWith('gid://') ? id : `gid://shopify/${type}/${id}`);
