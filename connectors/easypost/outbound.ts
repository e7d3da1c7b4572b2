import { ReasonCode } from '@omnihub/core';
import {
  ConnectorOutbound,
  DeliveryOutcome,
  HttpClient,
  HttpResponse,
  OutboundDelivery,
  authorizedClient,
  basicAuth,
  baseUrlOf,
  classifyHttpResponse,
  classifyTransportError,
  list,
  parseObject,
  record,
  renamed,
  text,
} from '@omnihub/connector-sdk';

export const EASYPOST_API = 'https://api.easypost.com';
/** Cross-reference entity type: tracking number → EasyPost tracker id (trk_…). */
export const TRACKER_XREF = 'tracker';

type JsonRecord = Record<string, unknown>;

/** EasyPost's error body `{"error":{"code","message","errors":[…]}}` as one line, or undefined when the body is not one. */
export function easypostError(body: string): string | undefined {
  const error = record(parseObject(body)?.error);
  if (!error) return undefined;
  const fields = Array.isArray(error.errors)
    ? error.errors.flatMap((e) => (record(e) && (text(record(e)?.field) || text(record(e)?.message)) ? [[text(record(e)?.field), text(record(e)?.message)].filter(Boolean).join(' ')] : []))
    : [];
  const head = [text(error.code), text(error.message)].filter(Boolean).join(': ');
  if (!head && fields.length === 0) return undefined;
  return fields.length ? `${head} (${fields.join('; ')})`.trim() : head;
}

/** The shared classification (DESIGN.md §4), with EasyPost's own code and message in place of the raw body. */
function classify(response: HttpResponse, trackingNumber: string, created: number): DeliveryOutcome {
  const outcome = classifyHttpResponse(response);
  if (outcome.outcome === 'delivered') return outcome;
  const said = easypostError(response.body)?.slice(0, 500);
  const kept = created > 0 ? `; ${created} tracker(s) created before it are remembered and not created again` : '';
  const message = `EasyPost answered HTTP ${response.status} creating the tracker for ${trackingNumber}${said ? `: ${said}` : outcome.message.replace(/^destination answered HTTP \d+/, '')}${kept}`;
  return { ...outcome, message };
}

function trackingNumbersOf(data: unknown): string[] {
  const numbers = list(record(data)?.trackingNumbers) ?? [];
  // A shipment may list a number twice; EasyPost would get two trackers for it.
  return [...new Set(numbers.flatMap((n) => (text(n) ? [text(n) as string] : [])))];
}

async function createTracker(http: HttpClient, url: string, trackingNumber: string, carrier: string | undefined, timeoutMs: number): Promise<HttpResponse> {
  // Without a carrier EasyPost detects it from the tracking code, so an unknown carrier is left out rather than sent empty.
  const tracker: JsonRecord = { tracking_code: trackingNumber };
  if (carrier) tracker.carrier = carrier;
  return http.request({ method: 'POST', url, headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ tracker }), timeoutMs });
}

/**
 * shipment.created → one EasyPost tracker per tracking number (POST /v2/trackers). EasyPost takes
 * no idempotency key, so each created tracker is remembered in the cross-reference store before the
 * next call, and numbers already remembered are skipped: a retry after a partial success (or a
 * replay) creates no second tracker. Numbers go one at a time so the first failure stops the rest.
 */
async function createTrackers(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const apiKey = delivery.secrets.apiKey;
  if (!apiKey) return { outcome: 'reject', reason: ReasonCode.AUTH_FAILED, message: 'the connection has no apiKey secret' };
  const data: unknown = delivery.event.data;
  const numbers = trackingNumbersOf(data);
  const carrier = renamed(text(record(data)?.carrier), delivery.config.carrierNames);
  const http = authorizedClient(delivery.http, basicAuth(apiKey));
  const url = `${baseUrlOf(delivery, EASYPOST_API)}/v2/trackers`;
  let created = 0;
  let lastStatus: number | undefined;
  for (const trackingNumber of numbers) {
    if (await delivery.xrefs.externalId(TRACKER_XREF, trackingNumber)) continue;
    let response: HttpResponse;
    try {
      response = await createTracker(http, url, trackingNumber, carrier, delivery.timeoutMs);
    } catch (error) {
      const outcome = classifyTransportError(error);
      return outcome.outcome === 'delivered' ? outcome : { ...outcome, message: `${outcome.message} (creating the tracker for ${trackingNumber})` };
    }
    if (response.status < 200 || response.status >= 300) return classify(response, trackingNumber, created);
    const trackerId = trackerIdOf(response.body);
    // A 2xx without an id cannot be remembered; EasyPost has the tracker all the same, so carry on.
    if (trackerId) await delivery.xrefs.remember(TRACKER_XREF, trackingNumber, trackerId);
    created++;
    lastStatus = response.status;
  }
  return lastStatus === undefined ? { outcome: 'delivered' } : { outcome: 'delivered', httpStatus: lastStatus };
}

function trackerIdOf(body: string): string | undefined {
  return text(parseObject(body)?.id);
}

export const easypostOutbound: ConnectorOutbound = { operations: { 'create-trackers': createTrackers } };
