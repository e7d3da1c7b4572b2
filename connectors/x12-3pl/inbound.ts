import { createHash } from 'node:crypto';
import { ReasonCode } from '@omnihub/core';
import {
  ConnectionContext,
  ConnectorContext,
  ConnectorInbound,
  Decoded,
  DeliveryAcknowledgement,
  ExtractedDelivery,
  InboundRequest,
  ResolveInput,
  Resolved,
  VerifyResult,
  headerValue,
  list,
  parseObject,
  record,
  resolvedOf,
  safeEqual,
  text,
} from '@omnihub/connector-sdk';
import manifest from './manifest.json';
import { SentGroup, ShippedOrder, shippedOrderKey } from './outbound';
import { interchangeText, postDocument, preparedEnvelope } from './partner';
import { DocumentProblem, documentsOf } from './read-documents';
import { settingsOf } from './settings';
import { ReceivedGroup, acknowledgmentSets } from './write-documents';
import { ISA_LENGTH, parseInterchange, quoted } from './x12/parser';

/** A body whose first transaction set cannot be found; it has no event type, and its decode names what is wrong. */
const UNKNOWN_TOPIC = 'unknown';

const EVENT_TYPES: ReadonlyMap<string, string> = new Map(manifest.inbound.topics.flatMap((t) => ('eventType' in t && t.eventType ? [[t.topic, t.eventType] as const] : [])));

const refuse = (reason: string): VerifyResult => ({ ok: false, reason });
const digest = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** `Authorization: Bearer <inboundToken>`, compared in constant time (digests, so the token's length does not show either). */
function verify(request: InboundRequest, connection: ConnectionContext): VerifyResult {
  try {
    const token = connection.secrets?.inboundToken;
    if (!token) return refuse('the connection has no inboundToken secret');
    const header = headerValue(request.headers, 'authorization')?.trim();
    if (!header) return refuse('header Authorization is missing');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return refuse('Authorization is not a Bearer token');
    return safeEqual(digest(match[1]), digest(token)) ? { ok: true } : refuse('the bearer token does not match');
  } catch {
    // verify is total: whatever a hostile request holds, the answer is a 401, never a 500.
    return refuse('the token could not be checked');
  }
}

/**
 * Topic = the first ST01 (`945`, `846`, `997`), dedupe id = ISA06 (trimmed) + ISA13: control
 * numbers are unique per sender, so a re-sent interchange is a duplicate. Reads only the ISA and
 * the segments up to the first ST; the whole envelope is checked by decode, in the worker.
 */
function extract(request: InboundRequest): ExtractedDelivery {
  try {
    const body = request.rawBody.toString('utf8');
    const start = body.search(/\S/);
    if (start < 0 || !body.startsWith('ISA', start) || body.length < start + ISA_LENGTH) return { topic: UNKNOWN_TOPIC };
    const isa = body.slice(start, start + ISA_LENGTH);
    const separator = isa[3];
    const terminator = isa[ISA_LENGTH - 1];
    const fields = isa.slice(0, ISA_LENGTH - 1).split(separator);
    const sender = fields[6]?.trim();
    const control = fields[13];
    const delivery: ExtractedDelivery = { topic: UNKNOWN_TOPIC };
    if (fields.length === 17 && sender && control && /^\d{9}$/.test(control)) delivery.deliveryId = `${sender}:${control}`;
    for (let position = start + ISA_LENGTH; position < body.length; ) {
      const end = body.indexOf(terminator, position);
      const segment = body.slice(position, end < 0 ? body.length : end).replace(/^[\r\n]+/, '');
      const [tag, id] = segment.split(separator);
      if (tag === 'ST' && id && /^\d{3}$/.test(id)) {
        delivery.topic = id;
        break;
      }
      if (end < 0) break;
      position = end + 1;
    }
    return delivery;
  } catch {
    return { topic: UNKNOWN_TOPIC };
  }
}

/**
 * The interchange, its envelope checked, as the mappings' JSON (see read-documents.ts). It must be
 * addressed from this connection's warehouse to this side: a document meant for another partner
 * is refused rather than booked.
 */
function decode(body: string, connection: ConnectionContext): Decoded {
  const parsed = parseInterchange(body);
  if (!parsed.ok) return { ok: false, message: parsed.message, position: parsed.position };
  const { interchange } = parsed;
  const settings = settingsOf(connection);
  const start = Math.max(0, body.indexOf('ISA'));
  if (settings.partner.id && interchange.sender.id !== settings.partner.id) {
    return { ok: false, message: `segment 1 (ISA): ISA06 ${quoted(interchange.sender.id)} is not this connection's warehouse (config.receiverId ${quoted(settings.partner.id)})`, position: start };
  }
  if (settings.us.id && interchange.receiver.id !== settings.us.id) {
    return { ok: false, message: `segment 1 (ISA): ISA08 ${quoted(interchange.receiver.id)} is not this side (config.senderId ${quoted(settings.us.id)})`, position: start };
  }
  try {
    return { ok: true, json: JSON.stringify(documentsOf(interchange)) };
  } catch (error) {
    if (error instanceof DocumentProblem) return { ok: false, message: error.message, position: error.segment.offset };
    throw error;
  }
}

/** The groups of a decoded body, as the 997 acknowledges them. */
function receivedGroups(decoded: Record<string, unknown> | undefined): ReceivedGroup[] {
  return (list(decoded?.groups) ?? []).flatMap((entry) => {
    const group = record(entry);
    const functionalId = text(group?.functionalId);
    const control = text(group?.control);
    if (!functionalId || !control) return [];
    const sets = (list(group?.sets) ?? []).flatMap((s) => {
      const id = text(record(s)?.id);
      const setControl = text(record(s)?.control);
      return id && setControl ? [{ id, control: setControl }] : [];
    });
    return [{ functionalId, control, sets }];
  });
}

/**
 * The resolve stage of 945s and 846s: a 997 acknowledging each functional group received, sent
 * before the message is mapped (in the worker, with the source's retry budget; a warehouse that
 * refuses it dead-letters the message with its answer). Its control numbers are remembered per
 * received interchange, so a retried or replayed resolve re-sends the same 997. The decoded body
 * goes on unchanged.
 */
async function acknowledge(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  const settings = settingsOf(context);
  const decoded = parseObject(input.body);
  const interchange = record(decoded?.interchange);
  const sender = text(record(interchange?.sender)?.id);
  const control = text(interchange?.control);
  const groups = receivedGroups(decoded);
  if (!sender || !control || groups.length === 0) return { ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD, message: 'the decoded interchange names no sender, control number or functional group to acknowledge' };
  if (!settings.url) return { ok: false, retry: false, reason: ReasonCode.DESTINATION_REJECTED, message: 'the connection has no config.url to send the 997 to' };
  const { envelope } = await preparedEnvelope(context.state, `997:${sender}:${control}`);
  const body = interchangeText(settings, envelope, acknowledgmentSets(groups));
  const what = `the 997 for interchange ${control} (groups ${groups.map((g) => g.control).join(', ')})`;
  const sent = await postDocument(context, settings.url, body, what, `997-${sender}-${control}`);
  if (!sent.ok) return resolvedOf(sent.failure);
  return { ok: true, body: input.topic === '945' && decoded ? JSON.stringify(await withShippedOrders(decoded, context)) : input.body };
}

/**
 * Each 945 shipment with the ids its order had where it was placed (remembered when its 940 was
 * sent), so the shipment reaches the channel that sold it (Shopify's fulfillment needs the Shopify
 * order id, Amazon's confirmation the Amazon order id), not only the warehouse's order number.
 */
async function withShippedOrders(decoded: Record<string, unknown>, context: ConnectorContext): Promise<Record<string, unknown>> {
  const shipments = await Promise.all(
    (list(decoded.shipments) ?? []).map(async (entry) => {
      const shipment = record(entry) ?? {};
      const orderNumber = text(shipment.depositorOrderNumber);
      const order = orderNumber ? await context.state.get<ShippedOrder>(shippedOrderKey(orderNumber)) : undefined;
      return order ? { ...shipment, order } : shipment;
    }),
  );
  return { ...decoded, shipments };
}

/** AK9's (or AK5's) code → what the acknowledged delivery shows. E: accepted, but errors were noted. */
const ACKNOWLEDGED_AS: Record<string, DeliveryAcknowledgement['status']> = { A: 'accepted', E: 'accepted', P: 'partially_accepted', R: 'rejected', M: 'rejected', W: 'rejected', X: 'rejected' };

/** What a support engineer reads on the delivery: the group's verdict, and each set's where one was refused. */
function acknowledgementDetail(ack: Record<string, unknown>, group: string): string {
  const counts = `${text(ack.setsAccepted) ?? ack.setsAccepted ?? '?'} of ${text(ack.setsIncluded) ?? ack.setsIncluded ?? '?'} sets accepted`;
  const refused = (list(ack.sets) ?? []).map((s) => record(s) ?? {}).filter((s) => text(s.status) && text(s.status) !== 'A' && text(s.status) !== 'E');
  const sets = refused.length ? `; ${refused.map((s) => `set ${text(s.control)} (${text(s.id)}): AK5 ${text(s.status)}`).join(', ')}` : '';
  return `997 for group ${group} (${text(ack.acknowledgedFunctionalId) ?? '?'}): AK9 ${text(ack.status) ?? '?'}, ${counts}${sets}`;
}

/**
 * The resolve stage of a 997 the warehouse sent: each acknowledged group of ours is looked up by
 * its control number (the 940 operation remembered which delivery sent it) and the partner's
 * verdict is recorded on that delivery. A 997 of a group this connection never sent is refused,
 * so it shows as a dead letter instead of vanishing.
 */
async function recordAcknowledgments(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  const acknowledgments = (list(parseObject(input.body)?.acknowledgments) ?? []).map((a) => record(a) ?? {});
  const unknown: string[] = [];
  for (const ack of acknowledgments) {
    const group = String(Number(text(ack.acknowledgedGroupControl)));
    const sent = await context.state.get<SentGroup>(`940-group:${group}`);
    const status = ACKNOWLEDGED_AS[text(ack.status) ?? ''];
    if (!sent || !status || !(await context.acknowledgements.record(sent.deliveryId, { status, detail: acknowledgementDetail(ack, group) }))) unknown.push(group);
  }
  if (acknowledgments.length === 0) return { ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD, message: 'the 997 acknowledges no functional group' };
  if (unknown.length > 0) return { ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD, message: `the 997 acknowledges group(s) ${unknown.join(', ')}, which this connection never sent (or with an AK9 code it does not know)` };
  return { ok: true, body: input.body };
}

export const x12Inbound: ConnectorInbound = {
  verify,
  extract,
  /** 945 and 846 as the manifest says; a 997 is a control document (no canonical event: its resolve stage marks the deliveries it acknowledges). */
  eventTypeFor: (topic: string) => EVENT_TYPES.get(topic),
  decode,
  resolve: (input, context) => (input.topic === '997' ? recordAcknowledgments(input, context) : acknowledge(input, context)),
};
