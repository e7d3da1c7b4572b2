import { JsonRecord, list, record, text } from '@omnihub/connector-sdk';
import { Segment, Separators } from './x12/envelope';
import { elementValue } from './x12/generator';

/*
 * The transaction sets the hub writes: the 940 Warehouse Shipping Order from a canonical order,
 * and the 997 Functional Acknowledgment of the groups a partner sent. Element meanings and
 * lengths: REFERENCE.md §3.13 (W0502 up to 22 characters, N102 60, N301/N302 55, G6901 45).
 */

export type Built = { ok: true; segments: Segment[] } | { ok: false; problem: string };

/** The order number the warehouse will quote back in the 945's W0602: the order's number, else its first external id. */
export function depositorOrderNumber(order: JsonRecord, separators: Separators): string {
  const ids = record(order.externalIds) ?? {};
  return elementValue(text(order.orderNumber) ?? Object.values(ids).map(text).find(Boolean) ?? '', separators, 22);
}

/** 940 heading, ship-to N1 loop, one LX/W01 loop per order line, W76 total quantity. */
export function shippingOrderSegments(order: JsonRecord, separators: Separators): Built {
  const v = (value: unknown, max?: number) => elementValue(value, separators, max);
  const orderNumber = depositorOrderNumber(order, separators);
  if (!orderNumber) return { ok: false, problem: 'the order has no orderNumber or external id to use as the 940 depositor order number (W0502)' };
  const to = record(order.shippingAddress);
  if (!to || !text(to.line1)) return { ok: false, problem: `order ${orderNumber} has no shippingAddress with a line1; a 940 needs a ship-to (N1*ST, N3, N4)` };
  const lines = list(order.lines) ?? [];
  if (lines.length === 0) return { ok: false, problem: `order ${orderNumber} has no lines` };

  const segments: Segment[] = [{ tag: 'W05', elements: ['N', orderNumber] }];
  const name = text(to.name) ?? [text(record(order.customer)?.firstName), text(record(order.customer)?.lastName)].filter(Boolean).join(' ');
  segments.push({ tag: 'N1', elements: ['ST', v(name || orderNumber, 60)] });
  if (text(to.company)) segments.push({ tag: 'N2', elements: [v(to.company, 60)] });
  segments.push({ tag: 'N3', elements: [v(to.line1, 55), v(to.line2, 55)] });
  // N402 is a two-letter state or province code; a region name does not fit it.
  const regionCode = text(to.regionCode) ?? (text(to.region)?.length === 2 ? text(to.region) : undefined);
  segments.push({ tag: 'N4', elements: [v(to.city, 30), v(regionCode, 2), v(to.postalCode, 15), v(to.countryCode, 3)] });
  if (text(to.phone)) segments.push({ tag: 'G61', elements: ['IC', v(name, 60), 'TE', v(to.phone, 80)] });

  let total = 0;
  for (const [index, entry] of lines.entries()) {
    const line = record(entry) ?? {};
    const sku = v(line.sku, 48);
    const quantity = line.quantity;
    if (!sku) return { ok: false, problem: `order ${orderNumber} line ${index + 1} has no SKU; the warehouse picks by SKU (W0105)` };
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) return { ok: false, problem: `order ${orderNumber} line ${index + 1} (${sku}) has no positive whole quantity` };
    total += quantity;
    segments.push({ tag: 'LX', elements: [String(index + 1)] }, { tag: 'W01', elements: [String(quantity), 'EA', '', 'VN', sku] });
    const title = [text(line.title), text(line.variantTitle)].filter(Boolean).join(', ');
    if (title) segments.push({ tag: 'G69', elements: [v(title, 45)] });
    if (text(line.lineId)) segments.push({ tag: 'N9', elements: ['LI', v(line.lineId, 30)] });
  }
  segments.push({ tag: 'W76', elements: [String(total)] });
  return { ok: true, segments };
}

export interface ReceivedGroup {
  functionalId: string;
  control: string;
  sets: Array<{ id: string; control: string }>;
}

/** One 997 per received functional group: AK1 names the group, AK2/AK5 accept each set, AK9 the group. */
export function acknowledgmentSets(groups: ReceivedGroup[]): Array<{ id: string; control: string; segments: Segment[] }> {
  return groups.map((group, index) => ({
    id: '997',
    control: String(index + 1).padStart(4, '0'),
    segments: [
      { tag: 'AK1', elements: [group.functionalId, group.control] },
      ...group.sets.flatMap((set): Segment[] => [
        { tag: 'AK2', elements: [set.id, set.control] },
        { tag: 'AK5', elements: ['A'] },
      ]),
      { tag: 'AK9', elements: ['A', String(group.sets.length), String(group.sets.length), String(group.sets.length)] },
    ],
  }));
}
