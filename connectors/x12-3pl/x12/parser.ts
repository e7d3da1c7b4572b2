import { FUNCTIONAL_IDS, FunctionalGroup, Interchange, ReadSegment, Separators, TransactionSet, element } from './envelope';

/*
 * An X12 interchange reader: separators from the fixed-width ISA, segments split on its terminator
 * (line breaks, spaces and tabs between segments tolerated), the envelope checked (order of ISA/GS/ST/SE/GE/IEA,
 * SE/GE/IEA counts, matching control numbers). It never throws: a broken body is an answer that
 * names the segment (its number in the interchange and its tag) and the character offset.
 */

export type ParseResult = { ok: true; interchange: Interchange<ReadSegment> } | { ok: false; message: string; position: number };

/** ISA is fixed-width: 106 characters, the element separator at these offsets, ISA16 at 104, the terminator at 105. */
export const ISA_LENGTH = 106;
const ISA_SEPARATOR_OFFSETS = [3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103];
const COMPONENT_OFFSET = 104;
const TERMINATOR_OFFSET = 105;
const REPETITION_OFFSET = 82;

const TAG = /^[A-Z][A-Z0-9]{1,2}$/;
const DIGITS = /^\d+$/;
const LINE_BREAKS = new Set(['\r', '\n']);
/** What may stand between a terminator and the next segment: line breaks, and the spaces or tabs some trading partners' tools pad with. */
const BETWEEN_SEGMENTS = new Set([...LINE_BREAKS, ' ', '\t']);

/**
 * A value as error messages show it: in double quotes, with control characters escaped (X12 allows
 * them as separators, and a corrupt body can carry any), so a message stays one readable line.
 */
export const quoted = (value: string): string => JSON.stringify(value);

class Broken {
  constructor(readonly message: string, readonly position: number) {}
}

const at = (segment: ReadSegment, problem: string): Broken => new Broken(`segment ${segment.index} (${segment.tag}): ${problem}`, segment.offset);

const isSeparatorChar = (c: string | undefined): c is string => c !== undefined && c.length === 1 && !/[A-Za-z0-9 ]/.test(c);

/** The separators an ISA segment declares, or why they cannot be read. */
function separatorsOf(isa: string): Separators | Broken {
  if (isa.length < ISA_LENGTH) return new Broken(`segment 1 (ISA): the interchange ends inside the ISA segment (${isa.length} of its ${ISA_LENGTH} characters)`, 0);
  const separator = isa[3];
  if (!isSeparatorChar(separator)) return new Broken(`segment 1 (ISA): character 4 ${quoted(isa[3])} cannot be an element separator`, 3);
  for (const offset of ISA_SEPARATOR_OFFSETS) {
    if (isa[offset] !== separator) {
      return new Broken(`segment 1 (ISA): not fixed-width: character ${offset + 1} should be the element separator ${quoted(separator)}, found ${quoted(isa[offset])}`, offset);
    }
  }
  const component = isa[COMPONENT_OFFSET];
  const segment = isa[TERMINATOR_OFFSET];
  const distinct = new Set([separator, component, segment]);
  if (!isSeparatorChar(component) || !(isSeparatorChar(segment) || LINE_BREAKS.has(segment)) || distinct.size !== 3) {
    return new Broken(`segment 1 (ISA): ISA16 ${quoted(component)} and the terminator ${quoted(segment)} must be distinct separator characters`, COMPONENT_OFFSET);
  }
  const repetition = isa[REPETITION_OFFSET];
  const separators: Separators = { element: separator, component, segment };
  if (isSeparatorChar(repetition) && !distinct.has(repetition)) separators.repetition = repetition;
  return separators;
}

/** Segment texts and where each starts; `rest` is trailing text that no terminator closes. */
function split(text: string, start: number, terminator: string): { pieces: Array<{ raw: string; offset: number }>; rest?: number } {
  const pieces: Array<{ raw: string; offset: number }> = [];
  let position = start;
  for (;;) {
    while (position < text.length && BETWEEN_SEGMENTS.has(text[position]) && text[position] !== terminator) position++;
    if (position >= text.length) return { pieces };
    const end = text.indexOf(terminator, position);
    if (end < 0) return { pieces, rest: position };
    pieces.push({ raw: text.slice(position, end), offset: position });
    position = end + 1;
  }
}

function count(segment: ReadSegment, position: number, name: string): number {
  const value = element(segment, position);
  if (!DIGITS.test(value)) throw at(segment, `${name} ${quoted(value)} is not a count`);
  return Number(value);
}

/** Parses one interchange (ISA … IEA). */
export function parseInterchange(text: string): ParseResult {
  try {
    return { ok: true, interchange: read(text) };
  } catch (error) {
    if (error instanceof Broken) return { ok: false, message: error.message, position: error.position };
    return { ok: false, message: `the interchange could not be read: ${(error as Error).message}`, position: 0 };
  }
}

function read(text: string): Interchange<ReadSegment> {
  let start = 0;
  while (start < text.length && /\s|\uFEFF/.test(text[start])) start++;
  if (!text.startsWith('ISA', start)) throw new Broken('segment 1: the body does not start with an ISA segment', start);
  const separators = separatorsOf(text.slice(start, start + ISA_LENGTH));
  if (separators instanceof Broken) throw new Broken(separators.message, start + separators.position);

  const { pieces, rest } = split(text, start, separators.segment);
  const segments: ReadSegment[] = pieces.map(({ raw, offset }, i) => {
    const [tag, ...elements] = raw.split(separators.element);
    return { tag, elements, index: i + 1, offset };
  });

  const isa = segments[0];
  if (isa.elements.length !== 16) throw at(isa, `ISA has ${isa.elements.length} elements; it must have 16`);
  const control = element(isa, 13);
  if (!/^\d{9}$/.test(control)) throw at(isa, `ISA13 ${quoted(control)} is not a nine-digit control number`);
  const interchange: Interchange<ReadSegment> = {
    separators,
    sender: { qualifier: element(isa, 5).trim(), id: element(isa, 6).trim() },
    receiver: { qualifier: element(isa, 7).trim(), id: element(isa, 8).trim() },
    date: element(isa, 9),
    time: element(isa, 10),
    version: element(isa, 12),
    control,
    ackRequested: element(isa, 14),
    usage: element(isa, 15),
    groups: [],
  };

  let group: { header: ReadSegment; value: FunctionalGroup<ReadSegment> } | undefined;
  let set: { header: ReadSegment; value: TransactionSet<ReadSegment> } | undefined;
  let closed = false;
  for (const segment of segments.slice(1)) {
    if (segment.tag === '' && segment.elements.length === 0) throw new Broken(`segment ${segment.index}: empty (two segment terminators in a row?)`, segment.offset);
    if (!TAG.test(segment.tag)) throw at({ ...segment, tag: segment.tag.slice(0, 8) }, 'not a segment tag (an element or segment separator out of place?)');
    if (closed) throw at(segment, 'found after IEA, which closes the interchange');
    if (set) {
      if (segment.tag === 'SE') {
        const expected = set.value.segments.length + 2;
        const said = count(segment, 1, 'SE01');
        if (said !== expected) throw at(segment, `SE01 says ${said} segments, but the transaction set from ST (segment ${set.header.index}) to SE has ${expected}`);
        if (element(segment, 2) !== set.value.control) throw at(segment, `SE02 ${quoted(element(segment, 2))} does not match ST02 ${quoted(set.value.control)} (segment ${set.header.index})`);
        group!.value.sets.push(set.value);
        set = undefined;
      } else if (['ISA', 'GS', 'ST', 'GE', 'IEA'].includes(segment.tag)) {
        throw at(segment, `unexpected inside transaction set ${set.value.id} ${set.value.control} (segment ${set.header.index}), which has no SE yet`);
      } else {
        set.value.segments.push(segment);
      }
    } else if (group) {
      if (segment.tag === 'ST') {
        const id = element(segment, 1);
        const setControl = element(segment, 2);
        if (!/^\d{3}$/.test(id)) throw at(segment, `ST01 ${quoted(id)} is not a transaction set identifier`);
        if (!/^.{4,9}$/.test(setControl)) throw at(segment, `ST02 ${quoted(setControl)} must be 4 to 9 characters`);
        const expectedGroup = FUNCTIONAL_IDS[id];
        if (expectedGroup && expectedGroup !== group.value.functionalId) throw at(segment, `transaction set ${id} in a ${group.value.functionalId} group (it belongs in ${expectedGroup})`);
        set = { header: segment, value: { id, control: setControl, segments: [], header: segment } };
      } else if (segment.tag === 'GE') {
        const said = count(segment, 1, 'GE01');
        if (said !== group.value.sets.length) throw at(segment, `GE01 says ${said} transaction sets, but the group from GS (segment ${group.header.index}) has ${group.value.sets.length}`);
        if (element(segment, 2) !== group.value.control) throw at(segment, `GE02 ${quoted(element(segment, 2))} does not match GS06 ${quoted(group.value.control)} (segment ${group.header.index})`);
        interchange.groups.push(group.value);
        group = undefined;
      } else {
        throw at(segment, `expected ST or GE in the functional group of GS (segment ${group.header.index})`);
      }
    } else if (segment.tag === 'GS') {
      const groupControl = element(segment, 6);
      if (!/^\d{1,9}$/.test(groupControl)) throw at(segment, `GS06 ${quoted(groupControl)} is not a group control number`);
      group = {
        header: segment,
        value: { functionalId: element(segment, 1), senderCode: element(segment, 2), receiverCode: element(segment, 3), date: element(segment, 4), time: element(segment, 5), control: groupControl, version: element(segment, 8), sets: [] },
      };
    } else if (segment.tag === 'IEA') {
      const said = count(segment, 1, 'IEA01');
      if (said !== interchange.groups.length) throw at(segment, `IEA01 says ${said} functional groups, but the interchange has ${interchange.groups.length}`);
      if (element(segment, 2) !== control) throw at(segment, `IEA02 ${quoted(element(segment, 2))} does not match ISA13 ${quoted(control)}`);
      closed = true;
    } else {
      throw at(segment, 'expected GS or IEA between functional groups');
    }
  }
  if (!closed) {
    const last = segments[segments.length - 1];
    const after = last.offset + pieces[pieces.length - 1].raw.length + 1;
    const unterminated = rest !== undefined ? `; ${text.length - rest} characters after it have no segment terminator` : '';
    throw new Broken(`interchange ends after segment ${last.index} without IEA (segment ${last.index} is ${last.tag}${unterminated})`, rest ?? after);
  }
  if (rest !== undefined) throw new Broken(`segment ${segments.length + 1}: text after IEA, which closes the interchange`, rest);
  return interchange;
}
