import * as fs from 'node:fs';
import * as path from 'node:path';
import { X12Interchange, X12Parser, X12Segment } from 'node-x12';
import { projectRoot } from '@omnihub/core';
import { Interchange, ReadSegment } from './x12/envelope';
import { parseInterchange } from './x12/parser';

/*
 * Differential test of the connector's X12 reader against node-x12 (a well-kept, independent
 * parser): every X12 sample the connector's tests use, and variants rewritten from them with other
 * separators, line breaks and envelope shapes, must be read the same way by both — segment count,
 * each segment's tag and elements in order (and where it starts), the ISA/GS/ST control numbers and
 * the group/set structure. Broken interchanges must be refused by both where node-x12 checks the
 * fault (strict mode); where only ours checks it, ours must name the segment and its position.
 *
 * The samples are cut into segments here by plain string splitting on the terminator the ISA
 * declares at character 106, so neither parser is used to build its own inputs.
 */

const HERE = path.join(projectRoot(), 'connectors', 'x12-3pl');
const FIXTURES = path.join(HERE, 'fixtures');
const SHARED_SAMPLES = '/work/shared/vendors/samples';

// ---------------------------------------------------------------------------------------------
// The corpus: every file (fixtures, shared samples) whose body is an X12 interchange.

interface Source {
  name: string;
  text: string;
}

const isX12 = (text: string): boolean => /^\s*ISA/.test(text);

function x12FilesIn(dir: string, label: string): Source[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((file) => ({ name: `${label}/${file}`, text: fs.readFileSync(path.join(dir, file), 'utf8') }))
    .filter((s) => isX12(s.text));
}

const FIXTURE_SOURCES = x12FilesIn(FIXTURES, 'fixtures');
const SHARED_SOURCES = x12FilesIn(SHARED_SAMPLES, 'shared');
/** The same bytes read from two places are one document (the fixtures are copies of the shared samples). */
const SOURCES: Source[] = [...FIXTURE_SOURCES, ...SHARED_SOURCES].filter((s, i, all) => all.findIndex((o) => o.text === s.text) === i);

// ---------------------------------------------------------------------------------------------
// A document as separators + segment texts, so that it can be rewritten with other separators.

interface Layout {
  element: string;
  component: string;
  segment: string;
  /** Written after each terminator. */
  lineBreak: string;
  /** ISA11 as a repetition separator (5010 style); left 'U' when absent. */
  repetition?: string;
}

interface Doc {
  /** Segment texts, without terminators, in the source's separators. */
  segments: string[];
  /** Text after the last terminator (a cut interchange). */
  unterminated?: string;
}

const SOURCE_LAYOUT = { element: '*', component: '>', segment: '~' };

/** Cuts a sample into segments on the terminator its ISA declares; only line breaks may follow a terminator. */
function docOf(text: string): Doc {
  expect(text.slice(0, 3)).toBe('ISA');
  // All samples are written with * > ~; the rewrite below maps exactly these characters.
  expect({ element: text[3], component: text[104], segment: text[105] }).toEqual(SOURCE_LAYOUT);
  const pieces = text.split(SOURCE_LAYOUT.segment);
  const last = pieces.pop()!;
  expect(last.trim()).toBe('');
  const segments = pieces.map((p, i) => (i === 0 ? p : p.replace(/^(\r\n|\n|\r)/, '')));
  for (const s of segments) expect(s).not.toMatch(/[\r\n]/);
  return { segments };
}

/** Writes a document with other separators: each separator character mapped, nothing else touched. */
function render(doc: Doc, layout: Layout): string {
  const map: Record<string, string> = { [SOURCE_LAYOUT.element]: layout.element, [SOURCE_LAYOUT.component]: layout.component };
  const rewrite = (segment: string): string => {
    for (const c of [layout.element, layout.component, layout.segment, layout.repetition ?? '']) {
      // A new separator that already occurs as data would make the rewrite ambiguous.
      if (c && !(c in map && map[c] === c) && segment.includes(c)) throw new Error(`separator ${JSON.stringify(c)} occurs in ${JSON.stringify(segment)}`);
    }
    return [...segment].map((c) => map[c] ?? c).join('');
  };
  const segments = doc.segments.map(rewrite);
  if (layout.repetition) {
    expect(segments[0][82]).toBe('U');
    segments[0] = segments[0].slice(0, 82) + layout.repetition + segments[0].slice(83);
  }
  const body = segments.map((s) => s + layout.segment + layout.lineBreak).join('');
  return doc.unterminated === undefined ? body : body + rewrite(doc.unterminated);
}

const SOURCE_WRITE: Layout = { ...SOURCE_LAYOUT, lineBreak: '\n' };

const TRIPLES: Array<[string, string, string]> = [
  ['*', '>', '~'],
  ['*', ':', '~'],
  ['|', ':', '~'],
  ['|', ':', '^'],
  ['|', '>', "'"],
  ['!', '\\', '`'],
  ['^', '}', '{'],
  ['*', '>', '\n'], // the line break itself is the terminator
  ['*', ':', '\r'], // CR terminator; with an LF after it the file reads as CRLF lines
  ['\u001d', '\u001f', '\u001c'], // control characters (GS, US, FS), as some VANs send
];

/** After a line-break terminator, another line break would be a second, empty segment. */
const breaksAfter = (segment: string): string[] => (segment === '\n' ? [''] : segment === '\r' ? ['', '\n'] : ['', '\n', '\r\n', '\r']);

const REPETITION_LAYOUTS: Layout[] = [
  { element: '*', component: ':', segment: '~', lineBreak: '\n', repetition: '^' },
  { element: '|', component: '\\', segment: '~', lineBreak: '\r\n', repetition: '^' },
  { element: '*', component: '>', segment: '\n', lineBreak: '', repetition: '{' },
];

/** Every layout: each triple with no line break, LF, CRLF and CR after each terminator, plus ISA11 repetition separators. */
const LAYOUTS: Layout[] = [
  ...TRIPLES.flatMap(([element, component, segment]) => breaksAfter(segment).map((lineBreak) => ({ element, component, segment, lineBreak }))),
  ...REPETITION_LAYOUTS,
];

/** Each triple once (the line breaks taken in turn) and the repetition layouts: for the documents derived from the samples. */
const SOME_LAYOUTS: Layout[] = [
  ...TRIPLES.map(([element, component, segment], i) => ({ element, component, segment, lineBreak: breaksAfter(segment)[i % breaksAfter(segment).length] })),
  ...REPETITION_LAYOUTS,
];

/** Runs a check for each layout; a failure is headed by the layout it failed in. */
function inEachLayout(layouts: Layout[], check: (layout: Layout) => void): void {
  for (const layout of layouts) {
    try {
      check(layout);
    } catch (error) {
      throw new Error(`in layout ${describeLayout(layout)}: ${(error as Error).message}`);
    }
  }
}

const describeLayout = (l: Layout): string =>
  JSON.stringify([l.element, l.component, l.segment, l.lineBreak, ...(l.repetition ? [`ISA11 ${l.repetition}`] : [])]);

// ---------------------------------------------------------------------------------------------
// Envelope shapes built from the samples (on the segment texts, in the source separators).

const el = (segment: string, n: number): string => segment.split('*')[n];
const withEl = (segment: string, n: number, value: string): string => segment.split('*').map((v, i) => (i === n ? value : v)).join('*');
const tagOf = (segment: string): string => segment.split('*')[0];
const indexOfTag = (doc: Doc, tag: string, from = 0): number => doc.segments.findIndex((s, i) => i >= from && tagOf(s) === tag);

/** The GS…GE block of a one-group sample. */
const groupBlock = (doc: Doc): string[] => doc.segments.slice(indexOfTag(doc, 'GS'), indexOfTag(doc, 'GE') + 1);

/** One group holding the sample's set twice (ST02/SE02 0001 and 0002), GE01 = 2. */
function twoSets(doc: Doc): Doc {
  const st = indexOfTag(doc, 'ST');
  const se = indexOfTag(doc, 'SE');
  const second = doc.segments.slice(st, se + 1).map((s) => (['ST', 'SE'].includes(tagOf(s)) ? withEl(s, 2, '0002') : s));
  const segments = [...doc.segments.slice(0, se + 1), ...second, ...doc.segments.slice(se + 1)];
  const ge = indexOfTag({ segments }, 'GE');
  segments[ge] = withEl(segments[ge], 1, '2');
  return { segments };
}

/** The sample's group twice (GS06/GE02 n and n + 1), IEA01 = 2. */
function twoGroups(doc: Doc): Doc {
  const block = groupBlock(doc);
  const control = String(Number(el(block[0], 6)) + 1);
  const second = block.map((s) => (tagOf(s) === 'GS' ? withEl(s, 6, control) : tagOf(s) === 'GE' ? withEl(s, 2, control) : s));
  const segments = [doc.segments[0], ...block, ...second, ...doc.segments.slice(indexOfTag(doc, 'GE') + 1)];
  const iea = segments.length - 1;
  segments[iea] = withEl(segments[iea], 1, '2');
  return { segments };
}

/** One interchange (the first sample's ISA/IEA) carrying every sample's group. */
function allGroups(docs: Doc[]): Doc {
  const [first] = docs;
  const iea = first.segments[first.segments.length - 1];
  return { segments: [first.segments[0], ...docs.flatMap(groupBlock), withEl(iea, 1, String(docs.length))] };
}

/** A 997 that rejects an element, so that a composite element (AK401, C030) is present for the component separator to split. */
function withComposite(doc997: Doc): Doc {
  const segments = doc997.segments.flatMap((s) => {
    if (tagOf(s) === 'AK2') return [s, 'AK3*W12*14**8', 'AK4*2>1*673*7*ZZ'];
    if (tagOf(s) === 'AK5') return ['AK5*R*5'];
    if (tagOf(s) === 'AK9') return ['AK9*R*1*1*0'];
    return [s];
  });
  const se = indexOfTag({ segments }, 'SE');
  segments[se] = withEl(segments[se], 1, String(se - indexOfTag({ segments }, 'ST') + 1));
  return { segments };
}

/**
 * Spaces around element values and an empty last element, which a reader must keep as sent (X12
 * asks senders to drop trailing empty elements; a reader that drops them or trims values differs).
 */
function withSpaces(doc: Doc): Doc {
  const st = indexOfTag(doc, 'ST');
  return {
    segments: doc.segments.map((s, i) => {
      if (i === st + 1) return `${s}*`;
      if (i === st + 2) return s.replace(/\*([^*]*)$/, '* $1  ');
      return s;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// What each parser says, in one shape.

interface Position {
  line: number;
  column: number;
}

interface SegmentView {
  /** 1-based number of the segment in the interchange. */
  n: number;
  tag: string;
  /** Every element in order, for segments ours returns as segments (ST and the set's body). */
  elements?: string[];
  /** Where the tag starts (line and column as node-x12 counts them: LF starts a line). */
  at?: Position;
  /** For envelope segments ours returns as fields: the elements those fields hold. */
  envelope?: Record<string, string>;
}

interface View {
  separators: { element: string; component: string; segment: string; repetition: string | null };
  segmentCount: number;
  segments: SegmentView[];
  /** GS06 and GS01 of each group, ST01/ST02 of each set. */
  structure: Array<{ functionalId: string; control: string; sets: Array<{ id: string; control: string }> }>;
}

function positionOf(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length - 1, column: offset - (before.lastIndexOf('\n') + 1) };
}

/** node-x12 stores ISA13 and IEA02 as parseInt(value) ("000004512" becomes "4512"), so ours is compared the same way. */
const asNodeX12Control = (nineDigits: string): string => String(parseInt(nineDigits, 10));

function oursView(interchange: Interchange<ReadSegment>, text: string): View {
  const segments: SegmentView[] = [];
  const body = (s: ReadSegment): SegmentView => ({ n: s.index, tag: s.tag, elements: s.elements, at: positionOf(text, s.offset) });
  segments.push({
    n: 1,
    tag: 'ISA',
    envelope: {
      ISA05: interchange.sender.qualifier,
      ISA06: interchange.sender.id,
      ISA07: interchange.receiver.qualifier,
      ISA08: interchange.receiver.id,
      ISA09: interchange.date,
      ISA10: interchange.time,
      ISA12: interchange.version,
      ISA13: asNodeX12Control(interchange.control),
      ISA14: interchange.ackRequested,
      ISA15: interchange.usage,
      ISA16: interchange.separators.component,
    },
  });
  let n = 1;
  for (const group of interchange.groups) {
    // GS07 (responsible agency) is not kept by ours; every other GS element is.
    segments.push({ n: ++n, tag: 'GS', envelope: { GS01: group.functionalId, GS02: group.senderCode, GS03: group.receiverCode, GS04: group.date, GS05: group.time, GS06: group.control, GS08: group.version } });
    for (const set of group.sets) {
      segments.push(body(set.header!));
      for (const s of set.segments) segments.push(body(s));
      n = (set.segments.at(-1) ?? set.header!).index;
      // SE is not returned by ours; it checked SE01 against the set it read and SE02 against ST02.
      segments.push({ n: ++n, tag: 'SE', envelope: { SE01: String(set.segments.length + 2), SE02: set.control } });
    }
    segments.push({ n: ++n, tag: 'GE', envelope: { GE01: String(group.sets.length), GE02: group.control } });
  }
  segments.push({ n: ++n, tag: 'IEA', envelope: { IEA01: String(interchange.groups.length), IEA02: asNodeX12Control(interchange.control) } });
  const { element, component, segment, repetition } = interchange.separators;
  return {
    separators: { element, component, segment, repetition: repetition ?? null },
    segmentCount: n,
    segments,
    structure: interchange.groups.map((g) => ({ functionalId: g.functionalId, control: g.control, sets: g.sets.map((s) => ({ id: s.id, control: s.control })) })),
  };
}

function theirsView(x: X12Interchange): View {
  const flat: X12Segment[] = [
    x.header,
    ...x.functionalGroups.flatMap((g) => [g.header, ...g.transactions.flatMap((t) => [t.header, ...t.segments, t.trailer]), g.trailer]),
    x.trailer,
  ];
  const pick = (s: X12Segment, positions: number[]): Record<string, string> =>
    Object.fromEntries(positions.map((p) => [`${s.tag}${String(p).padStart(2, '0')}`, s.valueOf(p)]));
  const segments = flat.map((s, i): SegmentView => {
    const n = i + 1;
    switch (s.tag) {
      case 'ISA': {
        const isa = pick(s, [5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16]);
        // ours trims ISA06/ISA08 (Party.id: "ISA pads ids to 15"); node-x12 keeps the padding.
        return { n, tag: s.tag, envelope: { ...isa, ISA06: isa.ISA06.trim(), ISA08: isa.ISA08.trim() } };
      }
      case 'GS':
        return { n, tag: s.tag, envelope: pick(s, [1, 2, 3, 4, 5, 6, 8]) };
      case 'SE':
      case 'GE':
      case 'IEA':
        return { n, tag: s.tag, envelope: pick(s, [1, 2]) };
      default:
        return { n, tag: s.tag, elements: s.elements.map((e) => e.value), at: { line: s.range.start.line, column: s.range.start.character } };
    }
  });
  const isa11 = x.header.valueOf(11);
  return {
    // ours reports ISA11 as a repetition separator only when it is one (4010 sends the standards id "U" there).
    separators: { element: x.elementDelimiter, component: x.options.subElementDelimiter ?? '(none)', segment: x.segmentTerminator, repetition: /^[A-Za-z0-9 ]$/.test(isa11) ? null : isa11 },
    segmentCount: flat.length,
    segments,
    structure: x.functionalGroups.map((g) => ({ functionalId: g.header.valueOf(1), control: g.header.valueOf(6), sets: g.transactions.map((t) => ({ id: t.header.valueOf(1), control: t.header.valueOf(2) })) })),
  };
}

/** node-x12 in strict mode (see ONLY_OURS for what it checks); a new parser each time, as it keeps state between parses. */
function nodeX12(text: string): X12Interchange {
  const result = new X12Parser(true).parse(text);
  if (!(result instanceof X12Interchange)) throw new Error('expected one interchange, node-x12 read several');
  return result;
}

function ours(text: string): Interchange<ReadSegment> {
  const result = parseInterchange(text);
  if (!result.ok) throw new Error(`ours refused: ${result.message} (at ${result.position})`);
  return result.interchange;
}

/** Both views of one text; a parser that refuses it throws, naming the variant. */
function bothViews(label: string, text: string): { ours: View; theirs: View; interchange: Interchange<ReadSegment> } {
  let theirs: View;
  try {
    theirs = theirsView(nodeX12(text));
  } catch (error) {
    throw new Error(`${label}: node-x12 refused: ${(error as Error).message}`);
  }
  const result = parseInterchange(text);
  if (!result.ok) throw new Error(`${label}: ours refused: ${result.message} (at ${result.position})`);
  return { ours: oursView(result.interchange, text), theirs, interchange: result.interchange };
}

/** toEqual on every variant is slow, so it runs (for its diff) only when the two differ. */
function expectSameView(mine: View, theirs: View): void {
  try {
    expect(mine).toEqual(theirs);
  } catch (error) {
    throw new Error(`ours (received) and node-x12 (expected) differ\n${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------

const byName = (file: string): Doc => {
  const source = SOURCES.find((s) => s.name.endsWith(`/${file}`));
  if (!source) throw new Error(`no sample ${file}`);
  return docOf(source.text);
};

describe('the corpus', () => {
  it('has the X12 samples the connector tests use, and the shared samples are the fixtures byte for byte', () => {
    expect(FIXTURE_SOURCES.map((s) => path.basename(s.name))).toEqual(expect.arrayContaining(['edi-846.x12', 'edi-856.x12', 'edi-940.x12', 'edi-945.x12', 'edi-997.x12']));
    for (const shared of SHARED_SOURCES) {
      const copy = FIXTURE_SOURCES.find((f) => path.basename(f.name) === path.basename(shared.name));
      expect(copy?.text).toBe(shared.text);
    }
  });

  it.each(SOURCES.map((s) => [s.name, s] as const))('rewriting %s in its own separators gives back its bytes', (_name, source) => {
    expect(render(docOf(source.text), SOURCE_WRITE)).toBe(source.text);
  });
});

describe('ours and node-x12 read the same segments, elements, control numbers and structure', () => {
  const docs = SOURCES.map((s) => ({ name: path.basename(s.name), doc: docOf(s.text) }));
  const inbound = docs.filter((d) => /945|846|997/.test(d.name));
  const documents: Array<[string, Doc, Layout[]]> = [
    ...docs.map((d): [string, Doc, Layout[]] => [`${d.name}, in all ${LAYOUTS.length} layouts`, d.doc, LAYOUTS]),
    ...docs.map((d): [string, Doc, Layout[]] => [`${d.name}, its set twice in one group`, twoSets(d.doc), SOME_LAYOUTS]),
    ...docs.map((d): [string, Doc, Layout[]] => [`${d.name}, its group twice`, twoGroups(d.doc), SOME_LAYOUTS]),
    ...docs.map((d): [string, Doc, Layout[]] => [`${d.name}, spaces around values and an empty last element`, withSpaces(d.doc), SOME_LAYOUTS]),
    ['every sample\'s group in one interchange', allGroups(docs.map((d) => d.doc)), LAYOUTS],
    ['edi-997.x12 rejecting an element (composite AK401)', withComposite(byName('edi-997.x12')), LAYOUTS],
  ];

  it('covers the inbound documents (945, 846, 997) and the outbound ones', () => {
    expect(inbound.map((d) => d.name)).toEqual(expect.arrayContaining(['edi-846.x12', 'edi-945.x12', 'edi-997.x12']));
    expect(documents.length).toBeGreaterThanOrEqual(22);
    expect(LAYOUTS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(documents)('%s', (name, doc, layouts) => {
    inEachLayout(layouts, (layout) => {
      const text = render(doc, layout);
      const { ours: mine, theirs, interchange } = bothViews(`${name} ${describeLayout(layout)}`, text);
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) expectSameView(mine, theirs);
      // The separators are the ones written, and the ISA control number is the text's nine digits (node-x12 keeps only parseInt of it).
      expect(mine.separators).toEqual({ element: layout.element, component: layout.component, segment: layout.segment, repetition: layout.repetition ?? null });
      expect(interchange.control).toBe(text.slice(90, 99));
      expect(mine.segmentCount).toBe(doc.segments.length);
    });
  });

  it('the structure is what the variants were built to be', () => {
    const read = (doc: Doc) => theirsView(nodeX12(render(doc, SOURCE_WRITE))).structure;
    const read945 = read(twoSets(byName('edi-945.x12')));
    expect(read945).toEqual([{ functionalId: 'SW', control: '4512', sets: [{ id: '945', control: '0001' }, { id: '945', control: '0002' }] }]);
    expect(read(twoGroups(byName('edi-846.x12'))).map((g) => [g.functionalId, g.control, g.sets.length])).toEqual([['IB', '4513', 1], ['IB', '4514', 1]]);
    expect(read(allGroups(docs.map((d) => d.doc))).map((g) => `${g.functionalId}:${g.sets.map((s) => s.id).join(',')}`)).toEqual(['IB:846', 'SH:856', 'OW:940', 'SW:945', 'FA:997']);
    const composite = render(withComposite(byName('edi-997.x12')), { element: '|', component: ':', segment: '~', lineBreak: '\n' });
    expect(ours(composite).groups[0].sets[0].segments.find((s) => s.tag === 'AK4')!.elements).toEqual(['2:1', '673', '7', 'ZZ']);
    const spaced = render(withSpaces(byName('edi-945.x12')), { element: '|', component: ':', segment: '~', lineBreak: '\r\n' });
    expect(spaced).toContain('W06|F|SO-1042|20250315|BOL20250315-0042||PO-88713|~\r\nN1|ST| Maria Lopez  ~');
    expect(ours(spaced).groups[0].sets[0].segments.slice(0, 2).map((s) => s.elements)).toEqual([['F', 'SO-1042', '20250315', 'BOL20250315-0042', '', 'PO-88713', ''], ['ST', ' Maria Lopez  ']]);
  });
});

// ---------------------------------------------------------------------------------------------
// Broken interchanges. Mutations are made on the sample's segment texts, then written in a layout.

type Mutation = (doc: Doc) => Doc;

const replaceTag = (tag: string, change: (segment: string) => string | string[]): Mutation => (doc) => {
  const i = indexOfTag(doc, tag);
  const replacement = change(doc.segments[i]);
  return { segments: [...doc.segments.slice(0, i), ...(Array.isArray(replacement) ? replacement : [replacement]), ...doc.segments.slice(i + 1)] };
};

/** 1-based number of the first segment with this tag in the mutated document. */
const numberOf = (doc: Doc, tag: string, from = 0): number => indexOfTag(doc, tag, from) + 1;

interface RefusalCase {
  name: string;
  mutate: Mutation;
  /** Ours: the message, given the segment number expected. */
  ours: (doc: Doc) => RegExp;
  /** The segment (tag) ours' position must point at; '' for a position that is checked another way. */
  at: (doc: Doc) => string;
  /** Where ours must point, when that is not the start of the segment `at` names. */
  position?: (text: string, layout: Layout) => number;
}

interface BothRefuseCase extends RefusalCase {
  /** node-x12 strict: the message it refuses with. */
  nodeX12: RegExp;
}

const INBOUND = ['edi-945.x12', 'edi-846.x12', 'edi-997.x12'];
const REFUSAL_LAYOUTS: Layout[] = [SOURCE_WRITE, { element: '|', component: ':', segment: '^', lineBreak: '' }, { element: '*', component: '>', segment: '\n', lineBreak: '' }, { element: '!', component: '\\', segment: '~', lineBreak: '\r\n' }];

const BOTH_REFUSE: BothRefuseCase[] = [
  {
    name: 'SE01 one short',
    mutate: replaceTag('SE', (s) => withEl(s, 1, String(Number(el(s, 1)) - 1))),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'SE')} \\(SE\\): SE01 says \\d+ segments, but the transaction set from ST \\(segment ${numberOf(d, 'ST')}\\) to SE has \\d+$`),
    at: () => 'SE',
    nodeX12: /The value in SE01 \(\d+\) does not match the number of segments in the transaction/,
  },
  {
    name: 'SE02 not ST02',
    mutate: replaceTag('SE', (s) => withEl(s, 2, '9999')),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'SE')} \\(SE\\): SE02 "9999" does not match ST02 "0001"`),
    at: () => 'SE',
    nodeX12: /The value in SE02 \(9999\) does not match the value in ST02 \(0001\)/,
  },
  {
    name: 'GE01 miscounts the sets',
    mutate: replaceTag('GE', (s) => withEl(s, 1, '2')),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'GE')} \\(GE\\): GE01 says 2 transaction sets, but the group from GS \\(segment 2\\) has 1$`),
    at: () => 'GE',
    nodeX12: /The value in GE01 \(2\) does not match the number of ST segments/,
  },
  {
    name: 'GE02 not GS06',
    mutate: replaceTag('GE', (s) => withEl(s, 2, '999')),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'GE')} \\(GE\\): GE02 "999" does not match GS06`),
    at: () => 'GE',
    nodeX12: /The value in GE02 \(999\) does not match the value in GS06/,
  },
  {
    name: 'IEA01 miscounts the groups',
    mutate: replaceTag('IEA', (s) => withEl(s, 1, '2')),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'IEA')} \\(IEA\\): IEA01 says 2 functional groups, but the interchange has 1$`),
    at: () => 'IEA',
    nodeX12: /The value in IEA01 \(2\) does not match the number of GS segments/,
  },
  {
    name: 'IEA02 another control number',
    mutate: replaceTag('IEA', (s) => withEl(s, 2, '000000999')),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'IEA')} \\(IEA\\): IEA02 "000000999" does not match ISA13 "\\d{9}"$`),
    at: () => 'IEA',
    nodeX12: /The value in IEA02 \(999\) does not match the value in ISA13/,
  },
  {
    name: 'ST without GS',
    mutate: replaceTag('GS', () => []),
    ours: () => /^segment 2 \(ST\): expected GS or IEA between functional groups$/,
    at: () => 'ST',
    nodeX12: /ST segment cannot appear outside of a functional group/,
  },
  {
    name: 'a segment between SE and GE',
    mutate: replaceTag('SE', (s) => [s, 'N9*LI*9']),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'N9', indexOfTag(d, 'SE'))} \\(N9\\): expected ST or GE in the functional group of GS \\(segment 2\\)$`),
    at: () => 'N9',
    nodeX12: /N9 segment cannot appear outside of a transaction/,
  },
  {
    name: 'ISA not fixed-width (ISA06 padded to 14)',
    mutate: replaceTag('ISA', (s) => withEl(s, 6, el(s, 6).slice(0, 14))),
    ours: () => /^segment 1 \(ISA\): not fixed-width: character 51 should be the element separator/,
    at: () => '',
    position: () => 50,
    nodeX12: /The ISA segment is not the correct length/,
  },
  {
    name: 'cut inside the ISA',
    mutate: (d) => ({ segments: [], unterminated: d.segments[0].slice(0, 60) }),
    ours: () => /^segment 1 \(ISA\): the interchange ends inside the ISA segment \(60 of its 106 characters\)$/,
    at: () => '',
    position: () => 0,
    nodeX12: /Document is too short/,
  },
];

/** Where ours must point: at the segment named (the layout's element separator after its tag). */
function expectOursRefuses(text: string, message: RegExp, segmentTag: string, layout: Layout): number {
  const result = parseInterchange(text);
  expect(result).toMatchObject({ ok: false });
  if (result.ok) throw new Error('unreachable');
  expect(result.message).toMatch(message);
  expect(result.position).toBeGreaterThanOrEqual(0);
  expect(result.position).toBeLessThanOrEqual(text.length);
  if (segmentTag) {
    expect(text.slice(result.position, result.position + segmentTag.length + 1)).toBe(segmentTag + layout.element);
    // and that is where a segment starts: right after a terminator (and the layout's line break)
    expect(text.slice(0, result.position).endsWith(layout.segment + layout.lineBreak)).toBe(true);
  }
  return result.position;
}

const refusalMatrix = <C extends RefusalCase>(cases: C[]) => cases.flatMap((c) => INBOUND.map((file) => [`${c.name}: ${file}`, c, file] as const));

describe('both refuse what node-x12 checks in strict mode, and ours names the segment and where it starts', () => {
  it.each(refusalMatrix(BOTH_REFUSE))('%s', (_name, c, file) => {
    const doc = c.mutate(byName(file));
    inEachLayout(REFUSAL_LAYOUTS, (layout) => {
      const text = render(doc, layout);
      expect(() => nodeX12(text)).toThrow(c.nodeX12);
      const position = expectOursRefuses(text, c.ours(doc), c.at(doc), layout);
      if (c.position) expect(position).toBe(c.position(text, layout));
    });
  });
});

/*
 * node-x12 1.7 in strict mode refuses: a body under 113 characters; character 104 not the element
 * separator (its only ISA check); ST, SE or a body segment outside a group, SE or GE without ST or
 * GS; SE01, GE01, IEA01 that miscount (parseInt); SE02 != ST02, GE02 != GS06, IEA02 != ISA13 (both
 * parseInt). It does not check: that SE, GE or IEA is there at all, anything after IEA, the rest of
 * the ISA's fixed width, tags, GS01 against ST01, or text after the last terminator (dropped).
 */
interface OnlyOursCase extends RefusalCase {
  /** What node-x12 returns instead of refusing, so that "it does not check this" is itself tested. */
  nodeX12Reads: (x: X12Interchange) => void;
}

const ONLY_OURS: OnlyOursCase[] = [
  {
    name: 'truncated: no IEA',
    mutate: (d) => ({ segments: d.segments.slice(0, -1) }),
    ours: (d) => new RegExp(`^interchange ends after segment ${d.segments.length} without IEA \\(segment ${d.segments.length} is GE\\)$`),
    at: () => '',
    position: (text, layout) => text.length - layout.lineBreak.length,
    nodeX12Reads: (x) => expect(x.trailer).toBeUndefined(), // node-x12 does not check that IEA is there
  },
  {
    name: 'truncated inside a segment of the set',
    mutate: (d) => {
      const cut = indexOfTag(d, 'SE') - 1;
      return { segments: d.segments.slice(0, cut), unterminated: d.segments[cut].slice(0, 5) };
    },
    ours: (d) => new RegExp(`^interchange ends after segment ${d.segments.length} without IEA \\(segment ${d.segments.length} is ${tagOf(d.segments.at(-1)!)}; 5 characters after it have no segment terminator\\)$`),
    at: () => '',
    position: (text) => text.length - 5,
    // node-x12 drops the unterminated text silently and does not miss SE, GE or IEA
    nodeX12Reads: (x) => {
      expect(x.trailer).toBeUndefined();
      expect(x.functionalGroups[0].trailer).toBeUndefined();
    },
  },
  {
    name: 'GE where SE should be (SE left out)',
    mutate: replaceTag('SE', () => []),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'GE')} \\(GE\\): unexpected inside transaction set \\d{3} 0001 \\(segment 3\\), which has no SE yet$`),
    at: () => 'GE',
    nodeX12Reads: (x) => expect(x.functionalGroups[0].transactions[0].trailer).toBeUndefined(), // node-x12 does not require SE
  },
  {
    name: 'a second ST inside an open set (its own SE; GE01 counting both)',
    mutate: (d) => replaceTag('GE', (s) => withEl(s, 1, '2'))(replaceTag('SE', () => [`ST*${el(d.segments[indexOfTag(d, 'ST')], 1)}*0002`, 'SE*2*0002'])(d)),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'ST', 3)} \\(ST\\): unexpected inside transaction set \\d{3} 0001 \\(segment 3\\), which has no SE yet$`),
    at: () => 'ST',
    nodeX12Reads: (x) => expect(x.functionalGroups[0].transactions).toHaveLength(2), // node-x12 opens a new set; the first never gets SE
  },
  {
    name: 'a segment after IEA',
    mutate: (d) => ({ segments: [...d.segments, 'GS*SW*X*Y*20250315*1435*1*X*004010'] }),
    ours: (d) => new RegExp(`^segment ${d.segments.length} \\(GS\\): found after IEA, which closes the interchange$`),
    at: () => 'GS',
    nodeX12Reads: (x) => expect(x.functionalGroups).toHaveLength(2), // node-x12 adds the group after IEA was checked
  },
  {
    name: 'IEA02 without the leading zeros of ISA13',
    mutate: replaceTag('IEA', (s) => withEl(s, 2, String(Number(el(s, 2))))),
    ours: (d) => new RegExp(`^segment ${numberOf(d, 'IEA')} \\(IEA\\): IEA02 "\\d{1,8}" does not match ISA13 "\\d{9}"$`),
    at: () => 'IEA',
    nodeX12Reads: (x) => expect(x.trailer.valueOf(2)).toBe(x.header.valueOf(13)), // node-x12 compares parseInt of both
  },
  {
    name: 'a set in a group of another functional id',
    mutate: replaceTag('GS', (s) => withEl(s, 1, 'PO')),
    ours: () => /^segment 3 \(ST\): transaction set \d{3} in a PO group \(it belongs in (SW|IB|FA)\)$/,
    at: () => 'ST',
    nodeX12Reads: (x) => expect(x.functionalGroups[0].header.valueOf(1)).toBe('PO'), // node-x12 does not relate GS01 to ST01
  },
  {
    name: 'ISA not fixed-width, but character 104 is still the element separator (ISA06 one short, ISA08 one long)',
    mutate: replaceTag('ISA', (s) => withEl(withEl(s, 6, el(s, 6).slice(0, 14)), 8, `${el(s, 8)} `)),
    ours: () => /^segment 1 \(ISA\): not fixed-width: character 51 should be the element separator/,
    at: () => '',
    position: () => 50,
    nodeX12Reads: (x) => expect(x.header.valueOf(6)).toHaveLength(14), // node-x12 checks only that character 104 is the element separator
  },
  {
    name: 'a tag in lower case',
    mutate: (d) => ({ segments: d.segments.map((s, i) => (i === 3 ? s.toLowerCase() : s)) }),
    ours: (d) => new RegExp(`^segment 4 \\(${tagOf(d.segments[3])}\\): not a segment tag`),
    at: (d) => tagOf(d.segments[3]),
    nodeX12Reads: (x) => expect(x.functionalGroups[0].transactions[0].segments[0].tag).toMatch(/^[a-z][a-z0-9]+$/), // node-x12 takes any tag
  },
];

describe('only ours refuses what node-x12 does not check; ours names the segment and where it starts', () => {
  it.each(refusalMatrix(ONLY_OURS))('%s', (_name, c, file) => {
    const doc = c.mutate(byName(file));
    inEachLayout(REFUSAL_LAYOUTS, (layout) => {
      const text = render(doc, layout);
      c.nodeX12Reads(nodeX12(text));
      const position = expectOursRefuses(text, c.ours(doc), c.at(doc), layout);
      if (c.position) expect(position).toBe(c.position(text, layout));
    });
  });
});

describe('where node-x12 is the stricter one', () => {
  it('line breaks before the ISA: ours skips them, node-x12 reads the separators at fixed offsets from character 1 and refuses', () => {
    for (const file of INBOUND) {
      const text = render(byName(file), SOURCE_WRITE);
      expect(() => nodeX12(`\r\n${text}`)).toThrow(/The ISA segment is not the correct length/);
      const shifted = oursView(ours(`\r\n${text}`), `\r\n${text}`);
      const plain = theirsView(nodeX12(text));
      // one line further down, the same segments
      expect(shifted.segments).toEqual(plain.segments.map((s) => (s.at ? { ...s, at: { ...s.at, line: s.at.line + 1 } } : s)));
    }
  });
});
