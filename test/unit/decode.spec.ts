import { ConnectorInbound, Decoded } from '@omnihub/connector-sdk';
import { decodeBody } from '../../apps/worker/src/transform/decode';

const connection = { connectionId: 'c1', config: {}, secrets: {} };
/** A decoder for `key=value` lines, the shape of a flat-file or EDI-like body, failing at the first bad line. */
const lines: ConnectorInbound['decode'] = (body: string): Decoded => {
  const out: Record<string, string> = {};
  let offset = 0;
  for (const line of body.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, message: `expected key=value, got "${line}"`, position: offset };
    out[line.slice(0, eq)] = line.slice(eq + 1);
    offset += line.length + 1;
  }
  return { ok: true, json: JSON.stringify(out) };
};
const inbound = (decode?: ConnectorInbound['decode']) => ({ verify: () => ({ ok: true }), extract: () => ({ topic: 't' }), eventTypeFor: () => undefined, decode }) as ConnectorInbound;

describe('the decode stage', () => {
  it('passes a body on untouched when the connector has no decoder (lossless JSON is parsed later)', () => {
    expect(decodeBody(inbound(), '{"id": 12345678901234567890}', connection)).toEqual({ ok: true, body: '{"id": 12345678901234567890}' });
    expect(decodeBody(undefined, 'x', connection)).toEqual({ ok: true, body: 'x' });
  });

  it("hands the connector's JSON text on to the mapping", () => {
    expect(decodeBody(inbound(lines), 'sku=MUG-1\nqty=3', connection)).toEqual({ ok: true, body: '{"sku":"MUG-1","qty":"3"}' });
  });

  it('refuses a body it cannot decode as INVALID_PAYLOAD with the position (the transform dead-letters it so)', () => {
    expect(decodeBody(inbound(lines), 'sku=MUG-1\nbroken\nqty=3', connection)).toEqual({
      ok: false,
      reason: 'INVALID_PAYLOAD',
      message: 'body cannot be decoded at @10: expected key=value, got "broken"',
      details: [{ path: '@10', message: 'expected key=value, got "broken"' }],
    });
  });

  it('turns a decoder that throws into INVALID_PAYLOAD, not a failed job', () => {
    const throwing = inbound(() => {
      throw new RangeError('segment terminator missing');
    });
    expect(decodeBody(throwing, 'ISA*00*', connection)).toMatchObject({ ok: false, reason: 'INVALID_PAYLOAD', message: 'body cannot be decoded: the decoder failed: segment terminator missing' });
  });
});
