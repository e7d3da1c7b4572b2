import { ConnectorContext, ConnectorState, VendorFailure, failureOfResponse, failureOfTransport } from '@omnihub/connector-sdk';
import { Segment } from './x12/envelope';
import { writeInterchange } from './x12/generator';
import { X12Settings } from './settings';

/*
 * What the hub sends the warehouse, and how: each document gets its interchange and group
 * control numbers from the connection's persisted sequences, remembered under a key of the
 * document before the first send, so a retry (or a replay) sends the same numbers again and a new
 * document never reuses one. POSTed to config.url as application/edi-x12.
 */

/** ISA13 and GS06 have nine digits. */
export const CONTROL_WRAP = 999_999_999;
export const CONTENT_TYPE = 'application/edi-x12';

export interface PreparedEnvelope {
  isa: number;
  gs: number;
  /** The envelope's date and time (ISA09/10, GS04/05), kept so that a re-send is the same document. */
  preparedAt: string;
}

const isPrepared = (value: unknown): value is PreparedEnvelope => {
  const v = value as PreparedEnvelope | undefined;
  return typeof v?.isa === 'number' && typeof v.gs === 'number' && typeof v.preparedAt === 'string';
};

/** The control numbers remembered under `key`, or new ones, remembered there before they are used. */
export async function preparedEnvelope(state: ConnectorState, key: string, now = new Date()): Promise<{ envelope: PreparedEnvelope; fresh: boolean }> {
  const known = await state.get(key);
  if (isPrepared(known)) return { envelope: known, fresh: false };
  const envelope: PreparedEnvelope = {
    isa: await state.nextInSequence('isa', CONTROL_WRAP),
    gs: await state.nextInSequence('gs', CONTROL_WRAP),
    preparedAt: now.toISOString(),
  };
  await state.set(key, envelope);
  return { envelope, fresh: true };
}

/** One interchange with one functional group from this side to the warehouse. */
export function interchangeText(settings: X12Settings, envelope: PreparedEnvelope, sets: Array<{ id: string; control: string; segments: Segment[] }>): string {
  return writeInterchange({ sender: settings.us, receiver: settings.partner, control: envelope.isa, usage: settings.usage, at: new Date(envelope.preparedAt) }, [{ control: envelope.gs, sets }]);
}

export type Sent = { ok: true; status: number } | { ok: false; failure: VendorFailure };

/** POSTs a document to the warehouse; 2xx is taken, 408/429/5xx and transport errors can be retried, other 4xx cannot. */
export async function postDocument(context: ConnectorContext, url: string, body: string, what: string, idempotencyKey: string): Promise<Sent> {
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, 'idempotency-key': idempotencyKey };
  const token = context.secrets.outboundToken;
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const response = await context.http.request({ method: 'POST', url, headers, body, timeoutMs: context.timeoutMs });
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    const said = response.body.length > 300 ? `${response.body.slice(0, 300)}…` : response.body;
    return { ok: false, failure: failureOfResponse(response, `the warehouse answered HTTP ${response.status} to ${what}${said ? `: ${said}` : ''}`) };
  } catch (error) {
    return { ok: false, failure: failureOfTransport(error, `sending ${what}`) };
  }
}
