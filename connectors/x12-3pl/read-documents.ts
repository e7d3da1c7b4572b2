import { Interchange, ReadSegment, TransactionSet, element } from './x12/envelope';

/*
 * 945, 846 and 997 transaction sets → the JSON the mappings read (the decode stage's output). It
 * stays X12-shaped (qualifiers and codes as sent) with two conveniences the mappings would
 * otherwise repeat: CCYYMMDD/HHMM dates become RFC 3339 UTC (X12 carries no zone; the partnership
 * is taken to use UTC), and R-type quantities become numbers. Element meanings: REFERENCE.md §3.13.
 */

type Json = Record<string, unknown>;

/** A document that parsed but lacks what this connector needs: named like the parser's errors. */
export class DocumentProblem extends Error {
  constructor(readonly segment: ReadSegment, problem: string) {
    super(`segment ${segment.index} (${segment.tag}): ${problem}`);
  }
}

const value = (segment: ReadSegment | undefined, position: number): string | null => {
  const v = segment ? element(segment, position).trim() : '';
  return v === '' ? null : v;
};

/** An R-type (decimal) quantity as a number; null when absent or not a number. */
function quantity(text: string | null): number | null {
  return text !== null && /^-?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : null;
}

/** CCYYMMDD (+ HHMM[SS]) as RFC 3339 UTC; null when the date is absent or not a calendar date. */
export function x12Timestamp(date: string | null, time?: string | null): string | null {
  const d = date && /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!d) return null;
  const t = (time && /^(\d{2})(\d{2})(\d{2})?/.exec(time)) || null;
  const [hh, mm, ss] = t ? [t[1], t[2], t[3] ?? '00'] : ['00', '00', '00'];
  const iso = `${d[1]}-${d[2]}-${d[3]}T${hh}:${mm}:${ss}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== iso.slice(0, 19) ? null : iso;
}

interface PartyJson extends Json {
  code: string | null;
  name: string | null;
  idQualifier: string | null;
  id: string | null;
  address: { line1: string | null; line2: string | null; city: string | null; region: string | null; postalCode: string | null; countryCode: string | null } | null;
}

function party(n1: ReadSegment): PartyJson {
  return { code: value(n1, 1), name: value(n1, 2), idQualifier: value(n1, 3), id: value(n1, 4), address: null };
}

/** N3/N4 belong to the N1 before them. */
function addressInto(target: PartyJson | undefined, segment: ReadSegment): void {
  if (!target) return;
  const address = (target.address ??= { line1: null, line2: null, city: null, region: null, postalCode: null, countryCode: null });
  if (segment.tag === 'N3') Object.assign(address, { line1: value(segment, 1), line2: value(segment, 2) });
  else Object.assign(address, { city: value(segment, 1), region: value(segment, 2), postalCode: value(segment, 3), countryCode: value(segment, 4) });
}

/** The location a party names: its id (N104), else its name. */
function locationOf(parties: PartyJson[]): { code: string; name: string | null } | null {
  const warehouse = parties.find((p) => p.code === 'WH' || p.code === 'SF' || p.code === 'SN') ?? null;
  const code = warehouse?.id ?? warehouse?.name ?? null;
  return code ? { code, name: warehouse?.name ?? null } : null;
}

function first(set: TransactionSet<ReadSegment>, tag: string, header: ReadSegment): ReadSegment {
  const found = set.segments.find((s) => s.tag === tag);
  if (!found) throw new DocumentProblem(header, `transaction set ${set.id} ${set.control} has no ${tag} segment`);
  return found;
}

/** 945 Warehouse Shipping Advice. */
function shippingAdvice(set: TransactionSet<ReadSegment>, groupControl: string, header: ReadSegment): Json {
  const w06 = first(set, 'W06', header);
  const depositorOrderNumber = value(w06, 2);
  if (!depositorOrderNumber) throw new DocumentProblem(w06, 'W0602 (depositor order number) is empty; it ties the shipment to its order');
  const parties: PartyJson[] = [];
  const references: Array<{ qualifier: string | null; value: string | null }> = [];
  const dates: Array<{ qualifier: string | null; at: string | null }> = [];
  const lines: Json[] = [];
  let carrier: Json | null = null;
  let totals: Json | null = null;
  let loop: { lineNumber: string | null; packages: Array<{ qualifier: string | null; value: string | null }> } | undefined;
  let item: Json | undefined;
  for (const segment of set.segments) {
    switch (segment.tag) {
      case 'N1':
        if (!loop) parties.push(party(segment));
        break;
      case 'N3':
      case 'N4':
        if (!loop) addressInto(parties[parties.length - 1], segment);
        break;
      case 'N9':
        if (item) item.references = [...(item.references as unknown[]), { qualifier: value(segment, 1), value: value(segment, 2) }];
        else if (!loop) references.push({ qualifier: value(segment, 1), value: value(segment, 2) });
        break;
      case 'G62':
        if (!loop) dates.push({ qualifier: value(segment, 1), at: x12Timestamp(value(segment, 2), value(segment, 4)) });
        break;
      case 'W27':
        carrier = { transportMethod: value(segment, 1), scac: value(segment, 2), routing: value(segment, 3), payment: value(segment, 4) };
        break;
      case 'LX':
        loop = { lineNumber: value(segment, 1), packages: [] };
        item = undefined;
        break;
      case 'MAN':
        loop?.packages.push({ qualifier: value(segment, 1), value: value(segment, 2) });
        break;
      case 'W12': {
        item = {
          lineNumber: loop?.lineNumber ?? null,
          status: value(segment, 1),
          quantityOrdered: quantity(value(segment, 2)),
          quantityShipped: quantity(value(segment, 3)),
          quantityDifference: quantity(value(segment, 4)),
          uom: value(segment, 5),
          upc: value(segment, 6),
          productQualifier: value(segment, 7),
          productId: value(segment, 8),
          sku: value(segment, 8) ?? value(segment, 6),
          lot: value(segment, 9),
          packages: loop ? loop.packages : [],
          references: [],
        };
        lines.push(item);
        break;
      }
      case 'W03':
        totals = { units: quantity(value(segment, 1)), weight: value(segment, 2), weightUnit: value(segment, 3) };
        break;
      default:
        break;
    }
  }
  const shipped = dates.find((d) => d.qualifier === '11')?.at ?? x12Timestamp(value(w06, 3));
  return {
    groupControl,
    setControl: set.control,
    reportingCode: value(w06, 1),
    depositorOrderNumber,
    shipmentId: value(w06, 4),
    agentShipmentId: value(w06, 5),
    poNumber: value(w06, 6),
    shippedAt: shipped,
    parties,
    fromLocation: locationOf(parties),
    references,
    dates,
    carrier,
    lines,
    totals,
  };
}

/** 846 Inventory Inquiry/Advice: one item per LIN loop. */
function inventoryAdvice(set: TransactionSet<ReadSegment>, groupControl: string, header: ReadSegment): Json {
  const bia = first(set, 'BIA', header);
  const reportDate = value(bia, 4);
  const reportTime = value(bia, 5);
  const parties: PartyJson[] = [];
  const headingDates: Array<{ qualifier: string | null; date: string | null; time: string | null }> = [];
  const items: Array<Json & { parties: PartyJson[]; dates: typeof headingDates }> = [];
  let item: (typeof items)[number] | undefined;
  let ctt: ReadSegment | undefined;
  for (const segment of set.segments) {
    switch (segment.tag) {
      case 'LIN': {
        const products: Array<{ qualifier: string; id: string }> = [];
        for (let position = 2; position + 1 <= segment.elements.length; position += 2) {
          const qualifier = value(segment, position);
          const id = value(segment, position + 1);
          if (qualifier && id) products.push({ qualifier, id });
        }
        if (products.length === 0) throw new DocumentProblem(segment, 'LIN names no product (LIN02/LIN03)');
        const sku = (products.find((p) => ['VN', 'SK', 'BP', 'IN', 'MG'].includes(p.qualifier)) ?? products[0]).id;
        item = { assignedId: value(segment, 1), sku, products, description: null, quantities: [], parties: [], dates: [] };
        items.push(item);
        break;
      }
      case 'PID':
        if (item && !item.description) item.description = value(segment, 5);
        break;
      case 'QTY':
        if (item) (item.quantities as unknown[]).push({ qualifier: value(segment, 1), quantity: quantity(value(segment, 2)), uom: value(segment, 3) });
        break;
      case 'DTM':
        (item ? item.dates : headingDates).push({ qualifier: value(segment, 1), date: value(segment, 2), time: value(segment, 3) });
        break;
      case 'N1':
        (item ? item.parties : parties).push(party(segment));
        break;
      case 'N3':
      case 'N4': {
        const list = item ? item.parties : parties;
        addressInto(list[list.length - 1], segment);
        break;
      }
      case 'CTT':
        ctt = segment;
        break;
      default:
        break;
    }
  }
  if (ctt && value(ctt, 1) !== null && Number(value(ctt, 1)) !== items.length) {
    throw new DocumentProblem(ctt, `CTT01 says ${value(ctt, 1)} LIN loops, but the transaction set has ${items.length}`);
  }
  // When a date comes without a time and is the report's own date, the report's time is the better guess than midnight.
  const asOf = (dates: typeof headingDates): string | null => {
    const dtm = dates.find((d) => d.qualifier === '007' && d.date) ?? dates.find((d) => d.date);
    if (!dtm) return null;
    return x12Timestamp(dtm.date, dtm.time ?? (dtm.date === reportDate ? reportTime : null));
  };
  const reportAsOf = asOf(headingDates) ?? x12Timestamp(reportDate, reportTime);
  const warehouse = locationOf(parties);
  return {
    groupControl,
    setControl: set.control,
    purpose: value(bia, 1),
    reportType: value(bia, 2),
    reference: value(bia, 3),
    asOf: reportAsOf,
    parties,
    location: warehouse,
    items: items.map(({ parties: own, dates, ...rest }) => ({ ...rest, location: locationOf(own) ?? warehouse, asOf: asOf(dates) ?? reportAsOf })),
  };
}

/** 997 Functional Acknowledgment: what the partner says of the hub's groups. */
function acknowledgment(set: TransactionSet<ReadSegment>, groupControl: string, header: ReadSegment): Json {
  const ak1 = first(set, 'AK1', header);
  const ak9 = first(set, 'AK9', header);
  const sets: Json[] = [];
  let current: Json | undefined;
  for (const segment of set.segments) {
    if (segment.tag === 'AK2') {
      current = { id: value(segment, 1), control: value(segment, 2), status: null };
      sets.push(current);
    } else if (segment.tag === 'AK5' && current) {
      current.status = value(segment, 1);
    }
  }
  return {
    groupControl,
    setControl: set.control,
    acknowledgedFunctionalId: value(ak1, 1),
    acknowledgedGroupControl: value(ak1, 2),
    status: value(ak9, 1),
    setsIncluded: quantity(value(ak9, 2)),
    setsReceived: quantity(value(ak9, 3)),
    setsAccepted: quantity(value(ak9, 4)),
    sets,
  };
}

const READERS: Record<string, { key: string; read: typeof shippingAdvice }> = {
  '945': { key: 'shipments', read: shippingAdvice },
  '846': { key: 'inventoryReports', read: inventoryAdvice },
  '997': { key: 'acknowledgments', read: acknowledgment },
};

const dateOf = (yymmdd: string): string | null => (/^\d{6}$/.test(yymmdd) ? `20${yymmdd.slice(0, 2)}-${yymmdd.slice(2, 4)}-${yymmdd.slice(4, 6)}` : null);

/**
 * The interchange as the mappings' JSON: its envelope (what a 997 acknowledges), and one document
 * per transaction set under the key of its kind. One kind per interchange: the message has one
 * topic, and a second kind would never be mapped.
 */
export function documentsOf(interchange: Interchange<ReadSegment>): Json {
  const out: Json = {
    interchange: {
      sender: interchange.sender,
      receiver: interchange.receiver,
      control: interchange.control,
      date: dateOf(interchange.date),
      time: interchange.time,
      usage: interchange.usage,
      version: interchange.version,
    },
    groups: interchange.groups.map((g) => ({ functionalId: g.functionalId, control: g.control, senderCode: g.senderCode, receiverCode: g.receiverCode, version: g.version, sets: g.sets.map((s) => ({ id: s.id, control: s.control })) })),
  };
  let kind: string | undefined;
  for (const group of interchange.groups) {
    for (const set of group.sets) {
      const header = set.header!;
      kind ??= set.id;
      if (set.id !== kind) throw new DocumentProblem(header, `transaction set ${set.id} in an interchange of ${kind}s; send one kind of document per interchange`);
      const reader = READERS[set.id];
      if (!reader) continue;
      out[reader.key] = [...((out[reader.key] as unknown[] | undefined) ?? []), reader.read(set, group.control, header)];
    }
  }
  return out;
}
