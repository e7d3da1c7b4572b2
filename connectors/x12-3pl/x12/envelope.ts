/*
 * The X12 interchange as data: separators, segments, and the ISA/GS/ST envelope around them
 * (REFERENCE.md §3.13). The parser reads text into these shapes; the generator writes them back.
 */

export interface Separators {
  /** ISA character 4. */
  element: string;
  /** ISA16. */
  component: string;
  /** ISA11 when it is a separator (5010 and later); 4010 puts the standards identifier `U` there. */
  repetition?: string;
  /** The character right after ISA16 (character 106). */
  segment: string;
}

export const DEFAULT_SEPARATORS: Separators = { element: '*', component: '>', segment: '~' };

export interface Segment {
  tag: string;
  /** Element values in order: `elements[0]` is element 01. Components are left joined. */
  elements: string[];
}

/** A segment as read: where it stood, for error messages that name it. */
export interface ReadSegment extends Segment {
  /** 1-based number of the segment in the interchange (ISA is 1). */
  index: number;
  /** Character offset of its tag in the body. */
  offset: number;
}

export interface TransactionSet<S extends Segment = Segment> {
  /** ST01, e.g. `945`. */
  id: string;
  /** ST02 = SE02. */
  control: string;
  /** The segments between ST and SE. */
  segments: S[];
  /** The ST segment, as read (the parser keeps it so that later checks can name where a set starts). */
  header?: S;
}

export interface FunctionalGroup<S extends Segment = Segment> {
  /** GS01, e.g. `SW`. */
  functionalId: string;
  senderCode: string;
  receiverCode: string;
  /** GS04 CCYYMMDD and GS05 HHMM as sent. */
  date: string;
  time: string;
  /** GS06 = GE02. */
  control: string;
  /** GS08, e.g. `004010`. */
  version: string;
  sets: Array<TransactionSet<S>>;
}

export interface Party {
  qualifier: string;
  /** Trimmed (ISA pads ids to 15). */
  id: string;
}

export interface Interchange<S extends Segment = Segment> {
  separators: Separators;
  sender: Party;
  receiver: Party;
  /** ISA09 YYMMDD and ISA10 HHMM as sent. */
  date: string;
  time: string;
  /** ISA12, e.g. `00401`. */
  version: string;
  /** ISA13 = IEA02, nine digits. */
  control: string;
  /** ISA14: `1` asks for a TA1. */
  ackRequested: string;
  /** ISA15: `P` production, `T` test. */
  usage: string;
  groups: Array<FunctionalGroup<S>>;
}

/** GS01 of the transaction sets this connector reads or writes (REFERENCE.md §3.13). */
export const FUNCTIONAL_IDS: Readonly<Record<string, string>> = { '940': 'OW', '945': 'SW', '846': 'IB', '856': 'SH', '850': 'PO', '997': 'FA' };

/** The elements of a segment, 1-based as X12 numbers them; '' for one not sent. */
export function element(segment: Segment, position: number): string {
  return segment.elements[position - 1] ?? '';
}

/** Nine-digit interchange control number (ISA13). */
export function isaControl(value: number | string): string {
  return String(value).padStart(9, '0');
}
