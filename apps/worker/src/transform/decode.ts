import { ErrorDetail, ReasonCode } from '@omnihub/core';
import { ConnectionContext, ConnectorInbound } from '@omnihub/connector-sdk';

export type Decoding = { ok: true; body: string } | { ok: false; reason: ReasonCode; message: string; details: ErrorDetail[] };

/**
 * The connector's decode stage (X12 text and other non-JSON bodies → JSON text for the mapping).
 * Without one the body goes on as it is, to be parsed as lossless JSON. A body that cannot be
 * decoded, or a decoder that throws, is INVALID_PAYLOAD with where it broke (`@<offset>`).
 */
export function decodeBody(inbound: ConnectorInbound | undefined, body: string, connection: ConnectionContext): Decoding {
  if (!inbound?.decode) return { ok: true, body };
  let decoded;
  try {
    decoded = inbound.decode(body, connection);
  } catch (error) {
    decoded = { ok: false as const, message: `the decoder failed: ${(error as Error).message}` };
  }
  if (decoded.ok) return { ok: true, body: decoded.json };
  const where = decoded.position !== undefined ? `@${decoded.position}` : '';
  return { ok: false, reason: ReasonCode.INVALID_PAYLOAD, message: `body cannot be decoded${where ? ` at ${where}` : ''}: ${decoded.message}`, details: [{ path: where, message: decoded.message }] };
}
