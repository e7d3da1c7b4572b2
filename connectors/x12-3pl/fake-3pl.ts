import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';
import { Interchange, ReadSegment, Segment, Separators, element } from './x12/envelope';
import { WriteOptions, writeInterchange } from './x12/generator';
import { parseInterchange } from './x12/parser';

/**
 * A stand-in for a third-party warehouse that trades X12 4010 over HTTP: it takes 940s and 997s
 * POSTed as application/edi-x12 (answering 200, 400 for a broken envelope or a document not
 * addressed to it, 415 for another content type; `server.queue` scripts 429s and 503s), keeps what
 * it understood, and writes the 945s, 846s and 997s a warehouse would send back, with a correct
 * envelope and its own control numbers, for tests to post to the hub's webhook.
 */

export interface FakeOrderLine {
  lineNumber: string;
  quantity: number;
  uom: string;
  sku: string;
  title?: string;
  lineId?: string;
}

export interface FakeShippingOrder {
  isaControl: string;
  groupControl: string;
  setControl: string;
  usage: string;
  depositorOrderNumber: string;
  shipTo: { name: string; line1?: string; line2?: string; city?: string; region?: string; postalCode?: string; countryCode?: string };
  lines: FakeOrderLine[];
  /** W7601. */
  totalQuantity?: number;
  /** The segment tags between ST and SE, in order. */
  tags: string[];
  raw: string;
}

export interface FakeAcknowledgment {
  isaControl: string;
  groupControl: string;
  /** AK1: the group acknowledged. */
  functionalId: string;
  acknowledgedGroup: string;
  sets: Array<{ id: string; control: string; status: string }>;
  status: string;
  raw: string;
}

export interface ShippedLine {
  sku: string;
  ordered: number;
  shipped: number;
  lineId?: string;
}

export interface StockLine {
  sku: string;
  available: number;
  onHand?: number;
  upc?: string;
}

export interface Fake3pl {
  server: FakeVendorServer;
  /** Where the hub POSTs (config.url). */
  url: string;
  /** The warehouse's interchange id, and the depositor's it trades with. */
  warehouseId: string;
  depositorId: string;
  /** Every 940 taken, a re-send included, in order of arrival. */
  shippingOrders: FakeShippingOrder[];
  /** Every 997 set taken. */
  acknowledgments: FakeAcknowledgment[];
  /** The POSTs received (answered or not). */
  documentRequests(): VendorRequest[];
  /** A 945 for an order, as the warehouse would send it when the order left. */
  shippingAdvice(orderNumber: string, lines: ShippedLine[], options?: { scac?: string; trackingNumber?: string; billOfLading?: string; write?: WriteOptions }): string;
  /** An 846 with one LIN loop per stock line, at the warehouse `locationCode`. */
  inventoryAdvice(lines: StockLine[], options?: { locationCode?: string; at?: Date; write?: WriteOptions }): string;
  /** A 997 accepting one of the hub's groups (GS06 and its sets). */
  /** A 997 of the hub's group; `rejected`: every set refused (AK5 R, error 5: segments in error) and the group with them (AK9 R). */
  acknowledgment(functionalId: string, groupControl: string, sets: Array<{ id: string; control: string }>, options?: { rejected?: boolean }): string;
  close(): Promise<void>;
}

export interface Fake3plOptions {
  warehouseId?: string;
  depositorId?: string;
  /** The first control number the warehouse uses for what it writes. */
  firstControl?: number;
}

const plain = (status: number, body: string): VendorReply => ({ status, headers: { 'content-type': 'text/plain' }, body });

function shippingOrderOf(interchange: Interchange<ReadSegment>, raw: string): FakeShippingOrder[] {
  return interchange.groups.flatMap((group) =>
    group.sets.map((set) => {
      const order: FakeShippingOrder = { isaControl: interchange.control, groupControl: group.control, setControl: set.control, usage: interchange.usage, depositorOrderNumber: '', shipTo: { name: '' }, lines: [], tags: set.segments.map((s) => s.tag), raw };
      let line: FakeOrderLine | undefined;
      let lineNumber = '';
      let inShipTo = false;
      for (const s of set.segments) {
        const e = (n: number) => element(s, n) || undefined;
        if (s.tag === 'W05') order.depositorOrderNumber = element(s, 2);
        else if (s.tag === 'N1') {
          inShipTo = element(s, 1) === 'ST';
          if (inShipTo) order.shipTo.name = element(s, 2);
        } else if (s.tag === 'N3' && inShipTo) Object.assign(order.shipTo, { line1: e(1), line2: e(2) });
        else if (s.tag === 'N4' && inShipTo) Object.assign(order.shipTo, { city: e(1), region: e(2), postalCode: e(3), countryCode: e(4) });
        else if (s.tag === 'LX') lineNumber = element(s, 1);
        else if (s.tag === 'W01') {
          line = { lineNumber, quantity: Number(element(s, 1)), uom: element(s, 2), sku: element(s, 5) || element(s, 3) };
          order.lines.push(line);
        } else if (s.tag === 'G69' && line) line.title = element(s, 1);
        else if (s.tag === 'N9' && line && element(s, 1) === 'LI') line.lineId = element(s, 2);
        else if (s.tag === 'W76') order.totalQuantity = Number(element(s, 1));
      }
      return order;
    }),
  );
}

function acknowledgmentsOf(interchange: Interchange<ReadSegment>, raw: string): FakeAcknowledgment[] {
  return interchange.groups.flatMap((group) =>
    group.sets.map((set) => {
      const ack: FakeAcknowledgment = { isaControl: interchange.control, groupControl: group.control, functionalId: '', acknowledgedGroup: '', sets: [], status: '', raw };
      for (const s of set.segments) {
        if (s.tag === 'AK1') Object.assign(ack, { functionalId: element(s, 1), acknowledgedGroup: element(s, 2) });
        else if (s.tag === 'AK2') ack.sets.push({ id: element(s, 1), control: element(s, 2), status: '' });
        else if (s.tag === 'AK5' && ack.sets.length > 0) ack.sets[ack.sets.length - 1].status = element(s, 1);
        else if (s.tag === 'AK9') ack.status = element(s, 1);
      }
      return ack;
    }),
  );
}

export async function startFake3pl(options: Fake3plOptions = {}): Promise<Fake3pl> {
  const warehouseId = options.warehouseId ?? 'NJ3PLWMS';
  const depositorId = options.depositorId ?? 'ACMEMUGS';
  const shippingOrders: FakeShippingOrder[] = [];
  const acknowledgments: FakeAcknowledgment[] = [];
  let control = options.firstControl ?? 5001;

  const handle = (request: VendorRequest): VendorReply => {
    if (request.method !== 'POST') return plain(405, 'POST documents here');
    if (!String(request.headers['content-type'] ?? '').startsWith('application/edi-x12')) return plain(415, 'send application/edi-x12');
    const parsed = parseInterchange(request.body);
    if (!parsed.ok) return plain(400, `rejected: ${parsed.message}`);
    const { interchange } = parsed;
    if (interchange.receiver.id !== warehouseId || interchange.sender.id !== depositorId) return plain(400, `rejected: interchange from ${interchange.sender.id} to ${interchange.receiver.id}; this warehouse trades ${depositorId} → ${warehouseId}`);
    const kind = interchange.groups[0]?.sets[0]?.id;
    if (kind === '940') shippingOrders.push(...shippingOrderOf(interchange, request.body));
    else if (kind === '997') acknowledgments.push(...acknowledgmentsOf(interchange, request.body));
    else return plain(400, `rejected: this warehouse takes 940s and 997s, not ${kind ?? 'an empty interchange'}`);
    return plain(200, `accepted interchange ${interchange.control}`);
  };

  /** One interchange with one group from the warehouse to the depositor, with the next control numbers. */
  const write = (id: string, segments: Segment[], writeOptions: WriteOptions = {}, at = new Date()): string => {
    const number = control++;
    return writeInterchange(
      { sender: { qualifier: 'ZZ', id: warehouseId }, receiver: { qualifier: 'ZZ', id: depositorId }, control: number, usage: 'P', at },
      [{ control: number, sets: [{ id, control: '0001', segments }] }],
      writeOptions,
    );
  };
  const ymd = (at: Date) => at.toISOString().slice(0, 10).replace(/-/g, '');
  const hm = (at: Date) => at.toISOString().slice(11, 16).replace(':', '');

  const server = await FakeVendorServer.start(handle);
  return {
    server,
    url: `${server.url}/edi/inbound`,
    warehouseId,
    depositorId,
    shippingOrders,
    acknowledgments,
    documentRequests: () => server.seen('/edi/inbound', 'POST'),
    shippingAdvice(orderNumber, lines, o = {}) {
      const at = new Date();
      const tracking = o.trackingNumber ?? '1Z999AA10123456784';
      const bol = o.billOfLading ?? `BOL-${orderNumber.replace(/[^A-Za-z0-9]/g, '')}`;
      const segments: Segment[] = [
        { tag: 'W06', elements: ['F', orderNumber, ymd(at), bol] },
        { tag: 'N1', elements: ['SF', 'NJ Fulfillment Center', '92', 'NJ01'] },
        { tag: 'N9', elements: ['BM', bol] },
        { tag: 'N9', elements: ['CN', tracking] },
        { tag: 'G62', elements: ['11', ymd(at), 'W', hm(at)] },
        { tag: 'W27', elements: ['U', o.scac ?? 'UPSN', 'UPS GROUND', 'PP'] },
      ];
      lines.forEach((line, i) => {
        segments.push(
          { tag: 'LX', elements: [String(i + 1)] },
          { tag: 'MAN', elements: ['CP', tracking] },
          { tag: 'W12', elements: [line.shipped === line.ordered ? 'CC' : 'CP', String(line.ordered), String(line.shipped), String(line.ordered - line.shipped), 'EA', '', 'VN', line.sku] },
        );
        if (line.lineId) segments.push({ tag: 'N9', elements: ['LI', line.lineId] });
      });
      segments.push({ tag: 'W03', elements: [String(lines.reduce((sum, l) => sum + l.shipped, 0))] });
      return write('945', segments, o.write, at);
    },
    inventoryAdvice(lines, o = {}) {
      const at = o.at ?? new Date();
      const segments: Segment[] = [
        { tag: 'BIA', elements: ['00', 'SI', `INV-${ymd(at)}-${hm(at)}`, ymd(at), hm(at)] },
        { tag: 'N1', elements: ['WH', 'NJ Fulfillment Center', '92', o.locationCode ?? 'NJ01'] },
      ];
      lines.forEach((line, i) => {
        segments.push({ tag: 'LIN', elements: [String(i + 1), 'VN', line.sku, ...(line.upc ? ['UP', line.upc] : [])] }, { tag: 'QTY', elements: ['33', String(line.available), 'EA'] });
        if (line.onHand !== undefined) segments.push({ tag: 'QTY', elements: ['17', String(line.onHand), 'EA'] });
      });
      segments.push({ tag: 'CTT', elements: [String(lines.length), String(lines.reduce((sum, l) => sum + l.available + (l.onHand ?? 0), 0))] });
      return write('846', segments, o.write, at);
    },
    acknowledgment(functionalId, groupControl, sets, options = {}) {
      const n = String(sets.length);
      return write('997', [
        { tag: 'AK1', elements: [functionalId, groupControl] },
        ...sets.flatMap((s): Segment[] => [{ tag: 'AK2', elements: [s.id, s.control] }, { tag: 'AK5', elements: options.rejected ? ['R', '5'] : ['A'] }]),
        { tag: 'AK9', elements: options.rejected ? ['R', n, n, '0', '5'] : ['A', n, n, n] },
      ]);
    },
    close: () => server.close(),
  };
}

/** The separators a test may ask the fake (or the generator) to write with, other than `*` `>` `~`. */
export const PIPE_SEPARATORS: Separators = { element: '|', component: ':', segment: '^' };
