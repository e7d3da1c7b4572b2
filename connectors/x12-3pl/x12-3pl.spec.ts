import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { X12Interchange, X12Parser } from 'node-x12';
import { projectRoot } from '@omnihub/core';
import { ConnectionContext, ConnectorManifest, Headers, MANIFEST_SCHEMA, outboundDelivery } from '@omnihub/connector-sdk';
import { connectorContext } from '../../test/support/connector-context';
import { Fake3pl, PIPE_SEPARATORS, startFake3pl } from './fake-3pl';
import { SentGroup } from './outbound';
import { PreparedEnvelope } from './partner';
import { DEFAULT_SEPARATORS, Separators } from './x12/envelope';
import { elementValue, writeInterchange } from './x12/generator';
import { parseInterchange } from './x12/parser';
import connector = require('./index');

const inbound = connector.inbound!;
const outbound = connector.outbound!;
const ROOT = projectRoot();
const HERE = path.join(ROOT, 'connectors', 'x12-3pl');
const fixture = (name: string): string => fs.readFileSync(path.join(HERE, 'fixtures', name), 'utf8');
const SAMPLES = ['edi-940.x12', 'edi-945.x12', 'edi-846.x12', 'edi-997.x12', 'edi-856.x12'];

const TOKEN = 'x12-inbound-token-4kQ9zT2w';
const CONFIG = { senderId: 'ACMEMUGS', receiverId: 'NJ3PLWMS', usageIndicator: 'P', url: 'http://127.0.0.1:9/edi' };
const connection = (config: Record<string, unknown> = CONFIG, secrets: Record<string, string> = { inboundToken: TOKEN }): ConnectionContext => ({ connectionId: 'x12-1', config, secrets });

/** The interchange of a parse that must succeed. */
function parsed(text: string) {
  const result = parseInterchange(text);
  if (!result.ok) throw new Error(`expected ${text.slice(0, 40)}… to parse: ${result.message}`);
  return result.interchange;
}

function yymmddToDate(isaDate: string, isaTime: string): Date {
  return new Date(`20${isaDate.slice(0, 2)}-${isaDate.slice(2, 4)}-${isaDate.slice(4, 6)}T${isaTime.slice(0, 2)}:${isaTime.slice(2, 4)}:00Z`);
}

describe('x12 parser and generator', () => {
  it.each(SAMPLES)('parses the shared sample %s, its envelope and counts as the file states them', (name) => {
    const text = fixture(name);
    const interchange = parsed(text);
    expect(interchange.separators).toEqual({ element: '*', component: '>', segment: '~' });
    expect(interchange.groups).toHaveLength(1);
    const [group] = interchange.groups;
    const [set] = group.sets;
    // The trailers as written in the file: SE01 counts ST..SE, GE02 = GS06, IEA02 = ISA13.
    const se = /\nSE\*(\d+)\*(\w+)~/.exec(text)!;
    expect(set.segments.length + 2).toBe(Number(se[1]));
    expect(set.control).toBe(se[2]);
    expect(text).toContain(`GE*1*${group.control}~`);
    expect(text).toContain(`IEA*1*${interchange.control}~`);
    expect(set.id).toBe(name.slice(4, 7));
    expect(interchange.version).toBe('00401');
  });

  it.each(SAMPLES)('writes %s back byte for byte from what it read (generator = the samples\' envelope)', (name) => {
    const text = fixture(name);
    const interchange = parsed(text);
    const [group] = interchange.groups;
    const written = writeInterchange(
      { sender: interchange.sender, receiver: interchange.receiver, control: Number(interchange.control), usage: interchange.usage as 'P', at: yymmddToDate(interchange.date, interchange.time), ackRequested: interchange.ackRequested === '1' },
      [{ functionalId: group.functionalId, control: Number(group.control), sets: group.sets.map((s) => ({ id: s.id, control: s.control, segments: s.segments.map(({ tag, elements }) => ({ tag, elements })) })) }],
    );
    expect(written).toBe(text);
  });

  const sampleSegments = () => parsed(fixture('edi-945.x12')).groups[0].sets[0].segments.map(({ tag, elements }) => ({ tag, elements }));
  const writeWith = (separators: Separators, lineBreak: string) =>
    writeInterchange({ sender: { qualifier: 'ZZ', id: 'NJ3PLWMS' }, receiver: { qualifier: '01', id: '123456789' }, control: 77, usage: 'T', at: new Date('2025-03-15T14:35:00Z') }, [{ control: 9, sets: [{ id: '945', control: '0001', segments: sampleSegments() }, { id: '945', control: '0002', segments: sampleSegments() }] }], { separators, lineBreak });

  it.each([
    ['| : ^ without line breaks', PIPE_SEPARATORS, ''],
    ['! ` \\n, the newline itself the terminator', { element: '!', component: '`', segment: '\n' }, ''],
    ['* > ~ with CRLF line breaks', DEFAULT_SEPARATORS, '\r\n'],
    ['5010-style repetition separator ^ in ISA11', { element: '*', component: ':', segment: '~', repetition: '^' }, '\n'],
  ] as Array<[string, Separators, string]>)('round-trips with separators %s', (_name, separators, lineBreak) => {
    const text = writeWith(separators, lineBreak);
    expect(text.indexOf(separators.segment)).toBe(105); // the ISA is 106 characters with its terminator
    const interchange = parsed(text);
    expect(interchange.separators).toEqual(separators);
    expect(interchange).toMatchObject({ sender: { qualifier: 'ZZ', id: 'NJ3PLWMS' }, receiver: { qualifier: '01', id: '123456789' }, control: '000000077', usage: 'T', date: '250315', time: '1435' });
    expect(interchange.groups[0].sets.map((s) => [s.id, s.control, s.segments.map(({ tag, elements }) => ({ tag, elements }))])).toEqual([
      ['945', '0001', sampleSegments()],
      ['945', '0002', sampleSegments()],
    ]);
  });

  it('tolerates line breaks of any kind, spaces and tabs between segments and before the ISA', () => {
    const text = fixture('edi-846.x12');
    const variants = [text.replace(/~\n/g, '~'), text.replace(/~\n/g, '~\r\n'), `\r\n${text.replace(/~\n/g, '~\n\n')}`, text.replace(/~\n/g, '~ \t\r\n '), `${text}  \n`];
    for (const variant of variants) expect(parsed(variant).groups[0].sets[0].segments.map((s) => s.tag)).toEqual(parsed(text).groups[0].sets[0].segments.map((s) => s.tag));
  });

  it('an element value never carries a separator, a control character or more than its length', () => {
    expect(elementValue('Apt 3*B~\nrear', DEFAULT_SEPARATORS)).toBe('Apt 3 B rear');
    expect(elementValue('a>b', DEFAULT_SEPARATORS)).toBe('a b');
    expect(elementValue('x|y^z:w', PIPE_SEPARATORS)).toBe('x y z w');
    expect(elementValue('  #1042  ', DEFAULT_SEPARATORS, 3)).toBe('#10');
    expect(elementValue(null)).toBe('');
  });

  describe('malformed interchanges name the segment and where it starts', () => {
    const good = fixture('edi-945.x12');
    const lines = good.split('\n');
    const withLine = (index: number, replacement: string | null) => lines.flatMap((l, i) => (i === index ? (replacement === null ? [] : [replacement]) : [l])).join('\n');
    // 945 sample lines: 0 ISA, 1 GS, 2 ST, 3 W06, … 20 W03, 21 SE, 22 GE, 23 IEA.
    const cases: Array<[string, string, RegExp, string]> = [
      ['cut inside a segment', good.slice(0, good.indexOf('W03*') + 5), /^interchange ends after segment 20 without IEA \(segment 20 is N9; 5 characters after it have no segment terminator\)$/, ''],
      ['cut after GE', lines.slice(0, 23).join('\n') + '\n', /^interchange ends after segment 23 without IEA \(segment 23 is GE\)$/, ''],
      ['SE01 one short', withLine(21, 'SE*19*0001~'), /^segment 22 \(SE\): SE01 says 19 segments, but the transaction set from ST \(segment 3\) to SE has 20$/, 'SE'],
      ['SE02 not ST02', withLine(21, 'SE*20*0002~'), /^segment 22 \(SE\): SE02 "0002" does not match ST02 "0001"/, 'SE'],
      ['GE02 not GS06', withLine(22, 'GE*1*4513~'), /^segment 23 \(GE\): GE02 "4513" does not match GS06 "4512"/, 'GE'],
      ['GE01 miscounts the sets', withLine(22, 'GE*2*4512~'), /^segment 23 \(GE\): GE01 says 2 transaction sets, but the group from GS \(segment 2\) has 1$/, 'GE'],
      ['IEA02 not ISA13', withLine(23, 'IEA*1*000004513~'), /^segment 24 \(IEA\): IEA02 "000004513" does not match ISA13 "000004512"$/, 'IEA'],
      ['IEA01 miscounts the groups', withLine(23, 'IEA*2*000004512~'), /^segment 24 \(IEA\): IEA01 says 2 functional groups, but the interchange has 1$/, 'IEA'],
      ['ST without GS', withLine(1, null), /^segment 2 \(ST\): expected GS or IEA between functional groups$/, 'ST'],
      ['a segment between SE and GE', withLine(22, 'W03*3~\nGE*1*4512~'), /^segment 23 \(W03\): expected ST or GE in the functional group of GS \(segment 2\)$/, 'W03'],
      ['GE before SE', withLine(21, null), /^segment 22 \(GE\): unexpected inside transaction set 945 0001 \(segment 3\), which has no SE yet$/, 'GE'],
      ['a 945 in a 940 (OW) group', withLine(1, 'GS*OW*NJ3PLWMS*ACMEMUGS*20250315*1435*4512*X*004010~'), /^segment 3 \(ST\): transaction set 945 in a OW group \(it belongs in SW\)$/, 'ST'],
      ['a segment after IEA', `${good}GS*SW*X*Y*20250315*1435*1*X*004010~\n`, /^segment 25 \(GS\): found after IEA/, 'GS'],
      ['text after IEA with no terminator', `${good}GS*SW`, /^segment 25: text after IEA/, 'GS'],
      ['not a segment tag', withLine(5, 'n3*221 Atlantic Ave~'), /^segment 6 \(n3\): not a segment tag/, 'n3'],
      ['ISA not fixed-width (an id padded to 14)', good.replace('NJ3PLWMS       *', 'NJ3PLWMS      *'), /^segment 1 \(ISA\): not fixed-width: character 51 should be the element separator "\*", found "Z"$/, ''],
      ['ISA cut short', good.slice(0, 60), /^segment 1 \(ISA\): the interchange ends inside the ISA segment \(60 of its 106 characters\)$/, 'ISA'],
      ['not X12 at all', '{"order":"SO-1042"}', /^segment 1: the body does not start with an ISA segment$/, '{'],
      ['ISA13 not nine digits', good.replace('*000004512*1*P*>~', '*00000451X*1*P*>~'), /^segment 1 \(ISA\): ISA13 "00000451X" is not a nine-digit control number$/, 'ISA'],
      ['SE01 not a number', withLine(21, 'SE*twenty*0001~'), /^segment 22 \(SE\): SE01 "twenty" is not a count$/, 'SE'],
      // Control characters are shown escaped, so the message stays one printable line.
      ['ISA16 the same control character as the terminator', good.replace('*P*>~', '*P*\u001d\u001d'), /^segment 1 \(ISA\): ISA16 "\\u001d" and the terminator "\\u001d" must be distinct separator characters$/, ''],
      ['a control character inside ISA13', good.replace('*000004512*1*P*>~', '*00000\r512*1*P*>~'), /^segment 1 \(ISA\): ISA13 "00000\\r512" is not a nine-digit control number$/, 'ISA'],
    ];
    it.each(cases)('%s', (_name, text, message, startsWith) => {
      const result = parseInterchange(text);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.message).toMatch(message);
      expect(result.message).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(result.position).toBeGreaterThanOrEqual(0);
      expect(result.position).toBeLessThanOrEqual(text.length);
      if (startsWith) expect(text.slice(result.position).startsWith(startsWith)).toBe(true);
    });

    it('a cut interchange is broken where the complete segments end', () => {
      const text = good.slice(0, good.indexOf('W03*') + 5);
      const result = parseInterchange(text);
      expect(result).toMatchObject({ ok: false, position: text.indexOf('W03*') });
    });

    it('never throws, whatever the body', () => {
      const bodies = ['', 'ISA', 'ISA*'.repeat(40), good.replace(/~/g, '').slice(0, 300), good.replace(/\*/g, '~'), '\u0000'.repeat(200), good.slice(0, 106) + '~~~~', 'ISA' + '*'.repeat(102) + '>~'];
      for (const body of bodies) {
        const result = parseInterchange(body);
        expect(result.ok).toBe(false);
      }
    });
  });
});

describe('the independent parser (node-x12) reads what the generator writes', () => {
  let fake: Fake3pl;
  beforeAll(async () => {
    fake = await startFake3pl();
  });
  afterAll(() => fake.close());

  async function sent940(order: Record<string, unknown>): Promise<string> {
    const context = connectorContext({ ...CONFIG, url: fake.url }, {});
    const event = { specversion: '1.0', id: 'msg-940', source: '/connections/shop', type: 'order.created', time: '2025-03-14T14:22:00.000Z', datacontenttype: 'application/json', data: order };
    const outcome = await outbound.operations['send-shipping-order'](outboundDelivery({ eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type }, { ...context, idempotencyKey: 'delivery-940' }));
    expect(outcome).toEqual({ outcome: 'delivered', httpStatus: 200 });
    return fake.documentRequests().at(-1)!.body;
  }

  it('a 940 for the canonical order: the same lines, SE/GE/IEA counts and control numbers', async () => {
    const order = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'canonical', 'order.created.json'), 'utf8')).data as Record<string, any>;
    const text = await sent940(order);
    const theirs = new X12Parser(true).parse(text) as X12Interchange; // strict: it checks SE01, GE01 and IEA01 itself
    expect(text.indexOf('~')).toBe(105);
    expect(text.slice(0, 106)).toMatch(/^ISA\*00\* {10}\*00\* {10}\*ZZ\*ACMEMUGS {7}\*ZZ\*NJ3PLWMS {7}\*\d{6}\*\d{4}\*U\*00401\*000000001\*0\*P\*>~$/);
    expect(theirs.header.valueOf(6).trim()).toBe('ACMEMUGS');
    expect(theirs.header.valueOf(8).trim()).toBe('NJ3PLWMS');
    expect(theirs.header.valueOf(15)).toBe('P');
    const group = theirs.functionalGroups[0];
    expect(theirs.functionalGroups).toHaveLength(1);
    expect(group.header.valueOf(1)).toBe('OW');
    expect(group.trailer.valueOf(2)).toBe(group.header.valueOf(6));
    expect(theirs.trailer.valueOf(2)).toBe(theirs.header.valueOf(13));
    const [set] = group.transactions;
    expect(set.header.valueOf(1)).toBe('940');
    expect(Number(set.trailer.valueOf(1))).toBe(set.segments.length + 2);
    const w05 = set.segments.find((s) => s.tag === 'W05')!;
    expect(w05.valueOf(2)).toBe(order.orderNumber);
    const w01s = set.segments.filter((s) => s.tag === 'W01').map((s) => [s.valueOf(1), s.valueOf(2), s.valueOf(4), s.valueOf(5)]);
    expect(w01s).toEqual(order.lines.map((l: Record<string, any>) => [String(l.quantity), 'EA', 'VN', l.sku]));
    expect(set.segments.filter((s) => s.tag === 'LX').map((s) => s.valueOf(1))).toEqual(order.lines.map((_: unknown, i: number) => String(i + 1)));
    expect(set.segments.find((s) => s.tag === 'W76')!.valueOf(1)).toBe(String(order.lines.reduce((n: number, l: Record<string, any>) => n + l.quantity, 0)));
    // And ours reads it the same way.
    const ours = parsed(text);
    expect(ours.groups[0].sets[0].segments.map((s) => s.tag)).toEqual(set.segments.map((s) => s.tag));
  });

  it('reads pipe-separated output too', () => {
    const text = writeInterchange({ sender: { qualifier: 'ZZ', id: 'A' }, receiver: { qualifier: 'ZZ', id: 'B' }, control: 5, usage: 'T', at: new Date('2025-01-02T03:04:00Z') }, [{ control: 5, sets: [{ id: '846', control: '0001', segments: [{ tag: 'BIA', elements: ['00', 'SI', 'R1', '20250102'] }, { tag: 'LIN', elements: ['1', 'VN', 'MUG-1'] }, { tag: 'QTY', elements: ['33', '4'] }] }] }], { separators: PIPE_SEPARATORS, lineBreak: '' });
    const theirs = new X12Parser(true).parse(text) as X12Interchange;
    expect(theirs.elementDelimiter).toBe('|');
    expect(theirs.segmentTerminator).toBe('^');
    expect(theirs.functionalGroups[0].transactions[0].segments.map((s) => `${s.tag}:${s.elements.map((e) => e.value).join(',')}`)).toEqual(['BIA:00,SI,R1,20250102', 'LIN:1,VN,MUG-1', 'QTY:33,4']);
  });
});

describe('x12-3pl inbound verifier (Authorization: Bearer <inboundToken>)', () => {
  const request = (headers: Headers) => ({ rawBody: Buffer.from(fixture('edi-945.x12')), headers, url: 'https://hub.example.com/webhooks/x12-1' });
  const cases: Array<[string, Record<string, string>, Headers, boolean]> = [
    ['the token', { inboundToken: TOKEN }, { authorization: `Bearer ${TOKEN}` }, true],
    ['the scheme in another case, surrounding whitespace', { inboundToken: TOKEN }, { authorization: `  bearer ${TOKEN} ` }, true],
    ['a repeated header: the first value counts', { inboundToken: TOKEN }, { authorization: [`Bearer ${TOKEN}`, 'Bearer junk'] }, true],
    ['another token', { inboundToken: TOKEN }, { authorization: 'Bearer x12-inbound-token-4kQ9zT2W' }, false],
    ['the token with a character more', { inboundToken: TOKEN }, { authorization: `Bearer ${TOKEN}x` }, false],
    ['a prefix of the token', { inboundToken: TOKEN }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, false],
    ['Basic with the token', { inboundToken: TOKEN }, { authorization: `Basic ${TOKEN}` }, false],
    ['the bare token', { inboundToken: TOKEN }, { authorization: TOKEN }, false],
    ['Bearer and nothing', { inboundToken: TOKEN }, { authorization: 'Bearer ' }, false],
    ['no header', { inboundToken: TOKEN }, {}, false],
    ['the connection has no inboundToken', {}, { authorization: `Bearer ${TOKEN}` }, false],
  ];
  it.each(cases)('%s', (_name, secrets, headers, expected) => {
    const verdict = inbound.verify(request(headers), connection(CONFIG, secrets));
    expect(verdict.ok).toBe(expected);
    if (!verdict.ok) expect(verdict.reason).not.toContain(TOKEN);
  });

  it('never throws, whatever the request holds', () => {
    const hostile = [
      { rawBody: Buffer.alloc(0), headers: null as unknown as Headers, url: '' },
      { rawBody: Buffer.alloc(0), headers: { authorization: [] as string[] }, url: '' },
      { rawBody: Buffer.alloc(0), headers: { authorization: 42 as unknown as string }, url: '' },
    ];
    for (const r of hostile) expect(inbound.verify(r, connection()).ok).toBe(false);
    expect(inbound.verify(request({ authorization: `Bearer ${TOKEN}` }), { connectionId: 'x', config: {}, secrets: undefined as unknown as Record<string, string> }).ok).toBe(false);
  });
});

describe('x12-3pl extract and event types', () => {
  const extract = (body: string | Buffer) => inbound.extract({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), headers: {}, url: '' }, connection());

  it.each([
    ['edi-945.x12', '945', 'NJ3PLWMS:000004512'],
    ['edi-846.x12', '846', 'NJ3PLWMS:000004513'],
    ['edi-997.x12', '997', 'ACMEMUGS:000001202'],
    ['edi-856.x12', '856', 'NJ3PLWMS:000004514'],
  ])('%s: topic %s, dedupe id sender + ISA13 %s', (name, topic, deliveryId) => {
    expect(extract(fixture(name))).toEqual({ topic, deliveryId });
  });

  it('reads other separators and no line breaks, and a truncated body still has its topic (decode refuses it later)', () => {
    const fake = writeInterchange({ sender: { qualifier: 'ZZ', id: 'NJ3PLWMS' }, receiver: { qualifier: 'ZZ', id: 'ACMEMUGS' }, control: 31, usage: 'P', at: new Date() }, [{ control: 31, sets: [{ id: '846', control: '0001', segments: [{ tag: 'BIA', elements: ['00'] }] }] }], { separators: PIPE_SEPARATORS, lineBreak: '' });
    expect(extract(fake)).toEqual({ topic: '846', deliveryId: 'NJ3PLWMS:000000031' });
    expect(extract(fixture('edi-945.x12').slice(0, 200))).toEqual({ topic: '945', deliveryId: 'NJ3PLWMS:000004512' });
  });

  it.each([['not X12', '{"a":1}'], ['empty', ''], ['an ISA cut short', 'ISA*00*   '], ['no ST', fixture('edi-945.x12').slice(0, 140)], ['not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0x49])]] as const)('does not throw on %s', (_name, body) => {
    const delivery = extract(typeof body === 'string' ? body : Buffer.from(body));
    expect(delivery.topic).toBe('unknown');
    expect(inbound.eventTypeFor(delivery.topic, connection())).toBeUndefined();
  });

  it('945 is shipment.created, 846 inventory.level; a 997 has no canonical event type', () => {
    expect(inbound.eventTypeFor('945', connection())).toBe('shipment.created');
    expect(inbound.eventTypeFor('846', connection())).toBe('inventory.level');
    expect(inbound.eventTypeFor('997', connection())).toBeUndefined();
  });
});

describe('x12-3pl decode', () => {
  const decode = (body: string, config: Record<string, unknown> = CONFIG) => inbound.decode!(body, connection(config));
  const json = (body: string) => {
    const decoded = decode(body);
    if (!decoded.ok) throw new Error(decoded.message);
    return JSON.parse(decoded.json) as Record<string, any>;
  };

  it('the 945 sample: the order number it ties to, the carrier, the tracking number and the lines', () => {
    const [shipment] = json(fixture('edi-945.x12')).shipments;
    expect(shipment).toMatchObject({ depositorOrderNumber: 'SO-1042', shipmentId: 'BOL20250315-0042', shippedAt: '2025-03-15T00:00:00Z', carrier: { scac: 'UPSN', routing: 'UPS GROUND' }, fromLocation: { code: 'NJ01' } });
    expect(shipment.lines.map((l: Record<string, any>) => [l.sku, l.quantityShipped, l.references[0].value])).toEqual([['MUG-STN-SLT', 2, '1'], ['CRF-600', 1, '2']]);
    expect(shipment.references).toEqual([{ qualifier: 'BM', value: 'BOL20250315-0042' }, { qualifier: 'CN', value: '1Z999AA10123456784' }]);
  });

  it('the 846 sample: one item per LIN loop with its quantities, location and time', () => {
    const decoded = json(fixture('edi-846.x12'));
    expect(decoded.groups).toEqual([{ functionalId: 'IB', control: '4513', senderCode: 'NJ3PLWMS', receiverCode: 'ACMEMUGS', version: '004010', sets: [{ id: '846', control: '0001' }] }]);
    expect(decoded.inventoryReports[0].items.map((i: Record<string, any>) => [i.sku, i.quantities.map((q: Record<string, any>) => `${q.qualifier}=${q.quantity}`), i.location.code, i.asOf])).toEqual([
      ['MUG-STN-SLT', ['33=35', '17=37'], 'NJ01', '2025-03-15T06:00:00Z'],
      ['CRF-600', ['33=12', '17=12'], 'NJ01', '2025-03-15T06:00:00Z'],
    ]);
  });

  it('the 997 sample, read from the warehouse\'s side of the partnership', () => {
    const decoded = decode(fixture('edi-997.x12'), { ...CONFIG, senderId: 'NJ3PLWMS', receiverId: 'ACMEMUGS' });
    expect(decoded.ok).toBe(true);
    const [ack] = (JSON.parse(decoded.ok ? decoded.json : '{}') as Record<string, any>).acknowledgments;
    expect(ack).toEqual({ groupControl: '1202', setControl: '0001', acknowledgedFunctionalId: 'SW', acknowledgedGroupControl: '4512', status: 'A', setsIncluded: 1, setsReceived: 1, setsAccepted: 1, sets: [{ id: '945', control: '0001', status: 'A' }] });
  });

  const sample945 = fixture('edi-945.x12');
  it.each([
    ['an envelope error, with the position of the segment', sample945.replace('SE*20*0001', 'SE*21*0001'), /^segment 22 \(SE\): SE01 says 21/, 'SE*21'],
    ['a 945 without W06', sample945.replace('W06*F*SO-1042*20250315*BOL20250315-0042**PO-88713~\n', '').replace('SE*20', 'SE*19'), /^segment 3 \(ST\): transaction set 945 0001 has no W06 segment$/, 'ST*945'],
    ['a 945 whose W06 has no order number', sample945.replace('W06*F*SO-1042*', 'W06*F**'), /^segment 4 \(W06\): W0602 \(depositor order number\) is empty/, 'W06'],
    ['an 846 whose CTT miscounts the LIN loops', fixture('edi-846.x12').replace('CTT*2*96', 'CTT*3*96'), /^segment 15 \(CTT\): CTT01 says 3 LIN loops, but the transaction set has 2$/, 'CTT'],
    ['an interchange for another partner', sample945.replace('ZZ*ACMEMUGS       *', 'ZZ*OTHERCO        *'), /^segment 1 \(ISA\): ISA08 "OTHERCO" is not this side \(config.senderId "ACMEMUGS"\)$/, 'ISA'],
    ['an interchange from another warehouse', sample945.replace('ZZ*NJ3PLWMS       *', 'ZZ*CA3PLWMS       *'), /^segment 1 \(ISA\): ISA06 "CA3PLWMS" is not this connection's warehouse/, 'ISA'],
  ])('refuses %s', (_name, body, message, at) => {
    const decoded = decode(body);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.message).toMatch(message);
    expect(body.slice(decoded.position)).toMatch(new RegExp(`^${at.replace(/[*()]/g, '\\$&')}`));
  });

  it('refuses an interchange that mixes kinds of documents (one message has one topic)', () => {
    const set = (id: string, segments: Array<{ tag: string; elements: string[] }>) => ({ id, control: '0001', segments });
    const text = writeInterchange({ sender: { qualifier: 'ZZ', id: 'NJ3PLWMS' }, receiver: { qualifier: 'ZZ', id: 'ACMEMUGS' }, control: 40, usage: 'P', at: new Date() }, [
      { control: 40, sets: [set('945', [{ tag: 'W06', elements: ['F', 'SO-1'] }])] },
      { control: 41, sets: [set('846', [{ tag: 'BIA', elements: ['00'] }])] },
    ]);
    expect(decode(text)).toMatchObject({ ok: false, message: expect.stringMatching(/^segment \d+ \(ST\): transaction set 846 in an interchange of 945s/) });
  });
});

describe('x12-3pl manifest', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(HERE, 'manifest.json'), 'utf8')) as ConnectorManifest;
  it('is valid, and every operation and mapping it names exists', () => {
    const validate = new Ajv({ allErrors: true }).compile(MANIFEST_SCHEMA);
    expect(validate(manifest) ? [] : validate.errors).toEqual([]);
    expect(manifest.kind).toBe('wms');
    for (const op of manifest.outbound?.operations ?? []) expect(typeof outbound.operations[op.operation]).toBe('function');
    for (const t of manifest.inbound?.topics ?? []) if (!t.control) expect(fs.existsSync(path.join(ROOT, 'mappings', `${t.mapping}.jsonata`))).toBe(true);
    expect(manifest.inbound?.topics.filter((t) => t.resolve).map((t) => t.topic)).toEqual(['945', '846', '997']);
    // The 997 is a control document: marked by its resolve stage, no event type, no mapping.
    expect(manifest.inbound?.topics.find((t) => t.topic === '997')).toEqual({ topic: '997', control: true, resolve: true });
  });
});

describe('x12-3pl outbound send-shipping-order against the fake 3PL', () => {
  let fake: Fake3pl;
  beforeEach(async () => {
    fake = await startFake3pl();
  });
  afterEach(() => fake.close());

  const ORDER = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'canonical', 'order.created.json'), 'utf8')).data as Record<string, any>;
  const stored = (data: Record<string, unknown> = ORDER) => {
    const event = { specversion: '1.0', id: 'msg-1', source: '/connections/shop', type: 'order.created', time: '2025-03-14T14:22:00.000Z', datacontenttype: 'application/json', data };
    return { eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type };
  };
  type Context = ReturnType<typeof connectorContext>;
  const contextFor = (config: Record<string, unknown> = {}): Context => connectorContext({ ...CONFIG, url: fake.url, ...config }, {});
  const deliver = (context: Context, idempotencyKey = 'delivery-1', data?: Record<string, unknown>, revision?: string) =>
    outbound.operations['send-shipping-order'](outboundDelivery(stored(data), { ...context, idempotencyKey, ...(revision ? { revision } : {}) }));

  it('POSTs a 940 (application/edi-x12) with the order number in W05, the ship-to and one LX/W01 per line', async () => {
    const context = contextFor();
    expect(await deliver(context)).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const [request] = fake.documentRequests();
    expect(request.headers['content-type']).toBe('application/edi-x12');
    expect(request.headers['idempotency-key']).toBe('delivery-1');
    expect(request.body.indexOf('~')).toBe(105);
    expect(fake.shippingOrders).toHaveLength(1);
    const [order] = fake.shippingOrders;
    expect(order).toMatchObject({ isaControl: '000000001', groupControl: '1', setControl: '0001', usage: 'P', depositorOrderNumber: '#1042', totalQuantity: 3 });
    expect(order.shipTo).toEqual({ name: 'Maria Lopez', line1: '221 Atlantic Ave', line2: 'Apt 3B', city: 'Brooklyn', region: 'NY', postalCode: '11201', countryCode: 'US' });
    expect(order.lines).toEqual([
      { lineNumber: '1', quantity: 2, uom: 'EA', sku: 'MUG-STN-SLT', title: 'Stoneware Mug, Slate', lineId: '5745678901234567901' },
      { lineNumber: '2', quantity: 1, uom: 'EA', sku: 'CRF-600', title: 'Pour-Over Carafe, 600 ml', lineId: '5745678901234567902' },
    ]);
    expect(order.tags).toEqual(['W05', 'N1', 'N3', 'N4', 'G61', 'LX', 'W01', 'G69', 'N9', 'LX', 'W01', 'G69', 'N9', 'W76']);
    // What a 997 will be matched by, and what a retry will re-send.
    expect(await context.state.get<SentGroup>('940-group:1')).toMatchObject({ deliveryId: 'delivery-1', orderNumber: '#1042', isaControl: '000000001', setControl: '0001', eventId: 'msg-1' });
    expect(await context.state.get<PreparedEnvelope>('940:delivery-1')).toMatchObject({ isa: 1, gs: 1 });
  });

  it('a retry after a 503 re-sends the same document with the same control numbers; the next order gets new ones', async () => {
    const context = contextFor();
    fake.server.queue({ status: 503, body: 'maintenance' });
    expect(await deliver(context)).toMatchObject({ outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503, message: expect.stringContaining('maintenance') });
    expect(await deliver(context)).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const [first, retry] = fake.documentRequests();
    expect(retry.body).toBe(first.body);
    expect(await deliver(context, 'delivery-2', { ...ORDER, orderNumber: '#1043' })).toMatchObject({ outcome: 'delivered' });
    expect(fake.shippingOrders.map((o) => [o.depositorOrderNumber, o.isaControl, o.groupControl])).toEqual([
      ['#1042', '000000001', '1'],
      ['#1043', '000000002', '2'],
    ]);
    // A replay of the first delivery (delivered already or not) is the same interchange again.
    await deliver(context);
    expect(fake.documentRequests().at(-1)!.body).toBe(first.body);
  });

  it('an edited replay is another document: new control numbers', async () => {
    const context = contextFor();
    await deliver(context);
    await deliver(context, 'delivery-1', { ...ORDER, lines: [ORDER.lines[0]] }, 'rev1');
    expect(fake.shippingOrders.map((o) => [o.isaControl, o.lines.length])).toEqual([
      ['000000001', 2],
      ['000000002', 1],
    ]);
  });

  it.each([
    ['429 with Retry-After: rate limited, retried after it', { status: 429, headers: { 'retry-after': '4' }, body: 'slow down' }, { outcome: 'retry', reason: 'RATE_LIMITED', httpStatus: 429, retryAfterMs: 4000 }],
    ['400: rejected with the warehouse\'s words', { status: 400, body: 'unknown depositor' }, { outcome: 'reject', reason: 'DESTINATION_REJECTED', httpStatus: 400, message: expect.stringContaining('unknown depositor') }],
    ['401: an auth failure', { status: 401, body: '' }, { outcome: 'reject', reason: 'AUTH_FAILED', httpStatus: 401 }],
  ])('%s', async (_name, reply, expected) => {
    fake.server.queue(reply);
    expect(await deliver(contextFor())).toMatchObject(expected);
  });

  it('the fake refuses a 940 not addressed to it (400), which is a rejection', async () => {
    expect(await deliver(contextFor({ receiverId: 'SOMEONEELSE' }))).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED', httpStatus: 400, message: expect.stringContaining('this warehouse trades ACMEMUGS') });
  });

  it('separators inside the order\'s text cannot break the document', async () => {
    const tricky = { ...ORDER, orderNumber: 'A*1~2>3', shippingAddress: { ...ORDER.shippingAddress, line2: 'Apt 3B~\nrear*door' } };
    expect(await deliver(contextFor(), 'delivery-1', tricky)).toMatchObject({ outcome: 'delivered' });
    expect(fake.shippingOrders[0]).toMatchObject({ depositorOrderNumber: 'A 1 2 3', shipTo: { line2: 'Apt 3B rear door' } });
  });

  it.each([
    ['no shipping address', { ...ORDER, shippingAddress: null }, 'has no shippingAddress'],
    ['a line without SKU', { ...ORDER, lines: [{ ...ORDER.lines[0], sku: null }] }, 'line 1 has no SKU'],
    ['no order number or external id', { ...ORDER, orderNumber: null, externalIds: {} }, 'no orderNumber or external id'],
  ])('rejects an order with %s without calling the warehouse', async (_name, data, message) => {
    expect(await deliver(contextFor(), 'delivery-1', data)).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED', message: expect.stringContaining(message) });
    expect(fake.server.requests).toHaveLength(0);
  });

  it('an unreachable warehouse is a retryable network error', async () => {
    expect(await deliver(contextFor({ url: 'http://127.0.0.1:9/edi' }))).toMatchObject({ outcome: 'retry', reason: 'NETWORK_ERROR' });
  });
});

describe('x12-3pl resolve: a 997 for every functional group received', () => {
  let fake: Fake3pl;
  beforeEach(async () => {
    fake = await startFake3pl();
  });
  afterEach(() => fake.close());

  const decodedOf = (body: string) => {
    const decoded = inbound.decode!(body, connection());
    if (!decoded.ok) throw new Error(decoded.message);
    return decoded.json;
  };
  const resolve = (context: ReturnType<typeof connectorContext>, body: string, topic = '945') => inbound.resolve!({ topic, body, headers: {} }, context);

  it('acknowledges the 945 sample\'s group (AK1 SW 4512, AK2 945 0001, accepted) and hands the body on unchanged', async () => {
    const context = connectorContext({ ...CONFIG, url: fake.url }, {});
    const body = decodedOf(fixture('edi-945.x12'));
    expect(await resolve(context, body)).toEqual({ ok: true, body });
    expect(fake.acknowledgments).toEqual([{ isaControl: '000000001', groupControl: '1', functionalId: 'SW', acknowledgedGroup: '4512', sets: [{ id: '945', control: '0001', status: 'A' }], status: 'A', raw: expect.any(String) }]);
    // Independently: a valid interchange with one 997 set.
    const theirs = new X12Parser(true).parse(fake.acknowledgments[0].raw) as X12Interchange;
    expect(theirs.functionalGroups[0].header.valueOf(1)).toBe('FA');
    expect(theirs.functionalGroups[0].transactions[0].segments.map((s) => s.tag)).toEqual(['AK1', 'AK2', 'AK5', 'AK9']);
  });

  it('one 997 set per group of an interchange with several; a repeated resolve re-sends the same 997', async () => {
    const context = connectorContext({ ...CONFIG, url: fake.url }, {});
    const two = writeInterchange({ sender: { qualifier: 'ZZ', id: 'NJ3PLWMS' }, receiver: { qualifier: 'ZZ', id: 'ACMEMUGS' }, control: 812, usage: 'P', at: new Date() }, [
      { control: 812, sets: [{ id: '846', control: '0001', segments: [{ tag: 'BIA', elements: ['00', 'SI', 'R', '20250315'] }] }, { id: '846', control: '0002', segments: [{ tag: 'BIA', elements: ['00', 'SI', 'R', '20250315'] }] }] },
      { control: 813, sets: [{ id: '846', control: '0001', segments: [{ tag: 'BIA', elements: ['00', 'SI', 'R', '20250315'] }] }] },
    ]);
    const body = decodedOf(two);
    await resolve(context, body, '846');
    expect(fake.acknowledgments.map((a) => [a.acknowledgedGroup, a.sets.map((s) => s.control)])).toEqual([
      ['812', ['0001', '0002']],
      ['813', ['0001']],
    ]);
    await resolve(context, body, '846');
    const [first, again] = fake.documentRequests();
    expect(again.body).toBe(first.body);
    // Another interchange gets new control numbers.
    await resolve(context, decodedOf(fixture('edi-945.x12')));
    expect(fake.acknowledgments.at(-1)!.isaControl).toBe('000000002');
  });

  it('a 503 is a retryable failure with the warehouse\'s answer; a 400 a permanent one', async () => {
    const context = connectorContext({ ...CONFIG, url: fake.url }, {});
    const body = decodedOf(fixture('edi-945.x12'));
    fake.server.queue({ status: 503, body: 'busy' }, { status: 400, body: 'no thanks' });
    expect(await resolve(context, body)).toMatchObject({ ok: false, retry: true, reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503, message: expect.stringContaining('busy') });
    expect(await resolve(context, body)).toMatchObject({ ok: false, retry: false, reason: 'DESTINATION_REJECTED', httpStatus: 400, message: expect.stringContaining('no thanks') });
  });
});

describe('fake 3PL', () => {
  it('answers 400 for a broken envelope, 415 for another content type, and writes documents the hub decodes', async () => {
    const fake = await startFake3pl();
    try {
      const context = connectorContext({}, {});
      const post = (body: string, type = 'application/edi-x12') => context.http.request({ method: 'POST', url: fake.url, headers: { 'content-type': type }, body, timeoutMs: 2000 });
      const broken = await post(fixture('edi-940.x12').replace('SE*21', 'SE*2'));
      expect(broken.status).toBe(400);
      expect(broken.body).toContain('segment 23 (SE)');
      expect((await post(fixture('edi-940.x12'), 'application/json')).status).toBe(415);
      expect((await post(fixture('edi-940.x12'))).status).toBe(200);
      expect(fake.shippingOrders[0].depositorOrderNumber).toBe('SO-1042');
      const advice = fake.shippingAdvice('#1042', [{ sku: 'MUG-STN-SLT', ordered: 2, shipped: 2, lineId: 'L1' }], { write: { separators: PIPE_SEPARATORS, lineBreak: '' } });
      const decoded = inbound.decode!(advice, connection());
      expect(decoded.ok).toBe(true);
      const stock = fake.inventoryAdvice([{ sku: 'A', available: 1 }, { sku: 'B', available: 2, onHand: 3 }]);
      expect(inbound.decode!(stock, connection()).ok).toBe(true);
      expect(parsed(fake.acknowledgment('OW', '1', [{ id: '940', control: '0001' }])).groups[0].functionalId).toBe('FA');
    } finally {
      await fake.close();
    }
  });
});
