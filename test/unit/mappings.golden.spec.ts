import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseVendorJson, projectRoot } from '@omnihub/core';
import jsonata from 'jsonata';
import { CompiledMapping, SchemaRegistry } from '@omnihub/mapping';
import { createJsonataCompiler, JsonataCompiler } from '../../libs/mapping/src/jsonata-compiler';

/**
 * Golden tests for every mapping under mappings/: each
 * `mappings/<connector>/fixtures/<mapping>/<case>.input.json` is a raw vendor body, run through
 * `mappings/<connector>/<mapping>.jsonata` the way the transformer runs it (lossless parse, the
 * same bindings), and must give exactly `<case>.expected.json`, which must be valid data for the
 * sidecar's target event type. A new mapping is covered by dropping fixtures next to it.
 *
 * Optional `<case>.bindings.json` overrides `topic`, `headers` or `connection` for one case.
 *
 * An outbound mapping (sidecar `"direction": "outbound"`) reads a canonical event and answers a
 * vendor's body: its input must be a valid event of the sidecar's `source.eventType`, and its
 * output is compared as it is (the vendor's shape has no schema here).
 */

const ROOT = projectRoot();
const MAPPINGS = path.join(ROOT, 'mappings');
const RECEIVED_AT = '2025-03-14T14:21:09.412Z';
const TIMEOUT_MS = 5000;

interface Sidecar {
  description?: string;
  direction?: 'inbound' | 'outbound';
  source?: { connector?: string; topic?: string; eventType?: string };
  target?: { eventType?: string; schemaVersion?: string; connector?: string; operation?: string };
}

const isOutbound = (sidecar: Sidecar) => sidecar.direction === 'outbound';

interface MappingFile {
  connector: string;
  name: string;
  /** `<connector>/<name>`, the mapping id. */
  id: string;
  file: string;
}

interface GoldenCase {
  mapping: string;
  connector: string;
  name: string;
  caseName: string;
  inputFile: string;
  expectedFile: string;
  bindingsFile: string;
}

const isDir = (p: string) => fs.existsSync(p) && fs.statSync(p).isDirectory();
const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
const rel = (file: string) => path.relative(ROOT, file);

function connectors(): string[] {
  return isDir(MAPPINGS) ? fs.readdirSync(MAPPINGS).filter((c) => isDir(path.join(MAPPINGS, c))).sort() : [];
}

/** Every `mappings/<connector>/<name>.jsonata`, the same files MappingCatalog loads. */
function mappingFiles(): MappingFile[] {
  return connectors().flatMap((connector) =>
    fs
      .readdirSync(path.join(MAPPINGS, connector))
      .filter((f) => f.endsWith('.jsonata'))
      .sort()
      .map((f) => {
        const name = f.slice(0, -'.jsonata'.length);
        return { connector, name, id: `${connector}/${name}`, file: path.join(MAPPINGS, connector, f) };
      }),
  );
}

/** Every `mappings/<connector>/fixtures/<mapping>/<case>.input.json`. */
function goldenCases(): GoldenCase[] {
  return connectors().flatMap((connector) => {
    const fixtures = path.join(MAPPINGS, connector, 'fixtures');
    if (!isDir(fixtures)) return [];
    return fs
      .readdirSync(fixtures)
      .filter((name) => isDir(path.join(fixtures, name)))
      .sort()
      .flatMap((name) =>
        fs
          .readdirSync(path.join(fixtures, name))
          .filter((f) => f.endsWith('.input.json'))
          .sort()
          .map((f) => {
            const caseName = f.slice(0, -'.input.json'.length);
            const base = path.join(fixtures, name, caseName);
            return {
              mapping: `${connector}/${name}`,
              connector,
              name,
              caseName,
              inputFile: `${base}.input.json`,
              expectedFile: `${base}.expected.json`,
              bindingsFile: `${base}.bindings.json`,
            };
          }),
      );
  });
}

function sidecarOf(connector: string, name: string): Sidecar {
  return readJson(path.join(MAPPINGS, connector, `${name}.json`)) as Sidecar;
}

const compiled = new Map<string, CompiledMapping>();
function compiledMapping(connector: string, name: string): CompiledMapping {
  const id = `${connector}/${name}`;
  let mapping = compiled.get(id);
  if (!mapping) {
    mapping = CompiledMapping.compile(fs.readFileSync(path.join(MAPPINGS, connector, `${name}.jsonata`), 'utf8'));
    compiled.set(id, mapping);
  }
  return mapping;
}

/** The bindings CanonicalTransformer gives a mapping, with a fixed receive time. */
function bindingsFor(c: GoldenCase, sidecar: Sidecar): Record<string, unknown> {
  const overrides = fs.existsSync(c.bindingsFile) ? (readJson(c.bindingsFile) as Record<string, unknown>) : {};
  return {
    topic: sidecar.source?.topic ?? 'test',
    headers: {},
    receivedAt: RECEIVED_AT,
    connection: {
      id: '6a1d9b3e-2f47-4c85-b0e2-9d3a7c5e1f20',
      name: `golden ${c.mapping}`,
      connector: sidecar.source?.connector ?? c.connector,
      config: { mapping: c.mapping },
    },
    ...overrides,
  };
}

/** JSONata returns sequences (arrays with extra flags); compare the plain JSON, as the transformer stores it. */
const plain = (value: unknown): unknown => (value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown));

const schemas = SchemaRegistry.load();
const eventTypes = Object.keys(readJson(path.join(ROOT, 'schemas', 'event-types.json')) as Record<string, string>);
const MAPPINGS_FOUND = mappingFiles();
const CASES = goldenCases();

let compiler: JsonataCompiler;
beforeAll(async () => {
  compiler = await createJsonataCompiler(jsonata);
});

describe('mappings: every .jsonata file', () => {
  it('there is at least one mapping and one golden case (discovery is not silently empty)', () => {
    expect(MAPPINGS_FOUND.length).toBeGreaterThan(0);
    expect(CASES.length).toBeGreaterThan(0);
  });

  it.each(MAPPINGS_FOUND.map((m) => [m.id, m] as const))('%s compiles and its sidecar targets a known event type', (_id, m) => {
    expect(() => CompiledMapping.compile(fs.readFileSync(m.file, 'utf8'))).not.toThrow();
    const sidecarFile = path.join(MAPPINGS, m.connector, `${m.name}.json`);
    expect(fs.existsSync(sidecarFile)).toBe(true);
    const sidecar = sidecarOf(m.connector, m.name);
    if (isOutbound(sidecar)) {
      expect(eventTypes).toContain(sidecar.source?.eventType);
      expect(sidecar.target?.connector).toBe(m.connector);
      return;
    }
    expect(eventTypes).toContain(sidecar.target?.eventType);
    expect(schemas.has(sidecar.target?.eventType as string)).toBe(true);
    if (sidecar.source?.connector !== undefined) expect(sidecar.source.connector).toBe(m.connector);
  });

  // Shipped mappings stay on the fast path: a construct jsonata-compiler leaves to jsonata fails here.
  it.each(MAPPINGS_FOUND.map((m) => [m.id, m] as const))('%s is covered by jsonata-compiler', (_id, m) => {
    expect(() => compiler.compile(fs.readFileSync(m.file, 'utf8'))).not.toThrow();
  });
});

describe('mappings: golden fixtures', () => {
  it.each(connectors().flatMap((connector) => {
    const fixtures = path.join(MAPPINGS, connector, 'fixtures');
    return isDir(fixtures) ? fs.readdirSync(fixtures).filter((n) => isDir(path.join(fixtures, n))).map((n) => [`${connector}/${n}`] as const) : [];
  }))('fixtures/%s belongs to an existing mapping', (id) => {
    expect(MAPPINGS_FOUND.map((m) => m.id)).toContain(id);
  });

  it.each(CASES.map((c) => [`${c.mapping} ${c.caseName}`, c] as const))('%s', async (_label, c) => {
    expect(fs.existsSync(c.expectedFile)).toBe(true); // an input without its expected output is a broken fixture, not a skip
    const sidecar = sidecarOf(c.connector, c.name);
    const eventType = sidecar.target?.eventType as string;

    const text = fs.readFileSync(path.join(MAPPINGS, c.connector, `${c.name}.jsonata`), 'utf8');
    const freshInput = () => parseVendorJson(fs.readFileSync(c.inputFile, 'utf8'));
    const input = freshInput();
    const output = plain(await compiledMapping(c.connector, c.name).evaluate(input, bindingsFor(c, sidecar), TIMEOUT_MS));
    const expected = readJson(c.expectedFile);
    // The jsonata package itself, without the runner's guard hooks: what both engines must give.
    const reference = plain(await jsonata(text).evaluate(freshInput(), bindingsFor(c, sidecar)));

    // (a) exactly the expected canonical data, by jsonata's own evaluation
    expect(reference).toStrictEqual(expected);
    // (a') the guarded runner (CompiledMapping) gives what jsonata gives
    expect(output).toStrictEqual(reference);
    // (a'') and so do the compiled closures the mapping threads run
    const compiledOutput = compiler.compile(text).evaluate(freshInput(), bindingsFor(c, sidecar));
    expect(plain(compiledOutput)).toStrictEqual(reference);
    if (isOutbound(sidecar)) {
      // (b') an outbound mapping's input is a canonical event of its source type, as the hub would hand it over
      const event = input as { type?: string; data?: unknown };
      expect(event.type).toBe(sidecar.source?.eventType);
      const result = schemas.validate(event.type as string, event.data);
      expect(result.valid ? [] : result.details.map((d) => `${rel(c.inputFile)} /data${d.path}: ${d.message}`)).toEqual([]);
      return;
    }
    // (b) valid data for the sidecar's event type (checked on the output, so a wrong expected file cannot hide it)
    // An array is one event per element (a Square stock notification with several levels): each element is checked.
    const events = Array.isArray(output) ? output : [output];
    const problems = events.flatMap((data, i) => {
      const result = schemas.validate(eventType, data);
      const at = Array.isArray(output) ? `/${i}` : '';
      return result.valid ? [] : result.details.map((d) => `${rel(c.expectedFile)} ${at}${d.path}: ${d.message}`);
    });
    expect(problems).toEqual([]);
  });
});
