import { DEFAULT_SEPARATORS, FUNCTIONAL_IDS, Party, Segment, Separators, isaControl } from './envelope';

/*
 * An X12 writer: segments joined with the interchange's separators, and the envelope computed
 * around them (fixed-width ISA, SE01/GE01/IEA01 counts, trailers repeating the control numbers).
 */

export interface InterchangeHeader {
  sender: Party;
  receiver: Party;
  /** ISA13; written as nine digits. */
  control: number;
  usage: 'T' | 'P';
  /** ISA09/ISA10 and GS04/GS05, in UTC. */
  at: Date;
  /** ISA14: ask the receiver for a TA1. The 997 acknowledges groups whatever this says. */
  ackRequested?: boolean;
}

export interface GroupSpec {
  /** GS01; derived from the first set's ST01 when left out. */
  functionalId?: string;
  /** GS06 (also GE02). */
  control: number;
  sets: Array<{ id: string; control: string; segments: Segment[] }>;
  /** GS02/GS03: the application sender and receiver codes; the ISA ids when left out. */
  senderCode?: string;
  receiverCode?: string;
}

export interface WriteOptions {
  separators?: Separators;
  /** Written after each terminator; X12 ignores it and people can read the file. */
  lineBreak?: string;
}

const INTERCHANGE_VERSION = '00401';
const GROUP_VERSION = '004010';

/**
 * A value safe to put in an element: separators and control characters become spaces (they would
 * split or end the segment), runs of spaces are collapsed, and the text is cut to `maxLength`.
 */
export function elementValue(value: unknown, separators: Separators = DEFAULT_SEPARATORS, maxLength?: number): string {
  if (value === null || value === undefined) return '';
  const reserved = new Set([separators.element, separators.component, separators.segment, ...(separators.repetition ? [separators.repetition] : [])]);
  const cleaned = [...String(value)].map((c) => (reserved.has(c) || c < ' ' || c === '\u007f' ? ' ' : c)).join('').replace(/\s+/g, ' ').trim();
  return maxLength === undefined ? cleaned : cleaned.slice(0, maxLength).trimEnd();
}

/** One segment as text, without its terminator; trailing empty elements are left out, as X12 requires. */
export function segmentText(segment: Segment, separators: Separators = DEFAULT_SEPARATORS): string {
  const elements = [...segment.elements];
  while (elements.length > 0 && elements[elements.length - 1] === '') elements.pop();
  for (const value of elements) {
    // A bug guard: callers pass values through elementValue, so this never fires on vendor data.
    if (value.includes(separators.element) || value.includes(separators.segment)) throw new Error(`element value of ${segment.tag} contains a separator: ${JSON.stringify(value)}`);
  }
  return [segment.tag, ...elements].join(separators.element);
}

const pad = (value: string, width: number): string => value.padEnd(width, ' ').slice(0, width);
const two = (n: number): string => String(n).padStart(2, '0');

function isaSegment(header: InterchangeHeader, separators: Separators): Segment {
  for (const party of [header.sender, header.receiver]) {
    if (party.id.length === 0 || party.id.length > 15) throw new Error(`an ISA id must be 1 to 15 characters: "${party.id}"`);
    if (party.qualifier.length !== 2) throw new Error(`an ISA id qualifier must be 2 characters: "${party.qualifier}"`);
  }
  const at = header.at;
  return {
    tag: 'ISA',
    elements: [
      '00', pad('', 10), '00', pad('', 10),
      header.sender.qualifier, pad(header.sender.id, 15),
      header.receiver.qualifier, pad(header.receiver.id, 15),
      `${two(at.getUTCFullYear() % 100)}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())}`,
      `${two(at.getUTCHours())}${two(at.getUTCMinutes())}`,
      separators.repetition ?? 'U',
      INTERCHANGE_VERSION,
      isaControl(header.control),
      header.ackRequested ? '1' : '0',
      header.usage,
      separators.component,
    ],
  };
}

/** A whole interchange: ISA, each group (GS, its sets each between ST and SE, GE), IEA. */
export function writeInterchange(header: InterchangeHeader, groups: GroupSpec[], options: WriteOptions = {}): string {
  const separators = options.separators ?? DEFAULT_SEPARATORS;
  const lineBreak = options.lineBreak ?? '\n';
  const at = header.at;
  const date = `${at.getUTCFullYear()}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())}`;
  const time = `${two(at.getUTCHours())}${two(at.getUTCMinutes())}`;
  const segments: Segment[] = [isaSegment(header, separators)];
  for (const group of groups) {
    const functionalId = group.functionalId ?? FUNCTIONAL_IDS[group.sets[0]?.id ?? ''];
    if (!functionalId) throw new Error('a functional group needs GS01 or a transaction set whose GS01 is known');
    const control = String(group.control);
    segments.push({ tag: 'GS', elements: [functionalId, group.senderCode ?? header.sender.id, group.receiverCode ?? header.receiver.id, date, time, control, 'X', GROUP_VERSION] });
    for (const set of group.sets) {
      segments.push({ tag: 'ST', elements: [set.id, set.control] }, ...set.segments, { tag: 'SE', elements: [String(set.segments.length + 2), set.control] });
    }
    segments.push({ tag: 'GE', elements: [String(group.sets.length), control] });
  }
  segments.push({ tag: 'IEA', elements: [String(groups.length), isaControl(header.control)] });
  return segments.map((s) => segmentText(s, separators) + separators.segment + lineBreak).join('');
}
