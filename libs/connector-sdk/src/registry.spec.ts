import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '@omnihub/core';
import { ConnectorRegistry } from './registry';

/** Lays out a throwaway root with connectors/ and mappings/ and returns it. */
function fakeRoot(connectors: Record<string, { manifest: unknown; code?: string }>, mappings: string[] = []): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'omnihub-registry-'));
  for (const [id, { manifest, code }] of Object.entries(connectors)) {
    fs.mkdirSync(path.join(root, 'connectors', id), { recursive: true });
    fs.writeFileSync(path.join(root, 'connectors', id, 'manifest.json'), JSON.stringify(manifest));
    fs.writeFileSync(path.join(root, 'connectors', id, 'index.js'), code ?? 'module.exports = { inbound: {}, outbound: { operations: {} } };');
  }
  for (const mapping of mappings) {
    fs.mkdirSync(path.dirname(path.join(root, 'mappings', mapping)), { recursive: true });
    fs.writeFileSync(path.join(root, 'mappings', `${mapping}.jsonata`), '$');
  }
  return root;
}

const valid = { id: 'acme', name: 'Acme', kind: 'erp', version: '1.0.0', config: { type: 'object' }, secrets: { type: 'object' } };

describe('connector registry', () => {
  it('loads every connector in the repository and checks their manifests', () => {
    const registry = ConnectorRegistry.load();
    expect(registry.get('generic-http')?.manifest.kind).toBe('generic');
    expect(registry.list().length).toBe(fs.readdirSync(path.join(projectRoot(), 'connectors')).length);
  });

  it('loads a valid connector from its folder', () => {
    const root = fakeRoot({ acme: { manifest: valid } });
    expect(ConnectorRegistry.load(root, root).get('acme')?.manifest.name).toBe('Acme');
  });

  it.each([
    ['an unknown system kind', { ...valid, kind: 'spaceship' }, /acme\/manifest\.json\/kind/],
    ['a missing version', { ...valid, version: undefined }, /must have required property 'version'/],
    ['an id that differs from its folder', { ...valid, id: 'other' }, /must equal its folder name/],
    ['a topic that resolves without a resolve stage', { ...valid, inbound: { topics: [{ topic: 'orders/create', eventType: 'order.created', resolve: true }] } }, /topic "orders\/create" says resolve, but the module's inbound has no resolve stage/],
    ['an operation the module lacks', { ...valid, outbound: { operations: [{ eventType: 'order.created', operation: 'create-order' }] } }, /operation "create-order" \(for order.created\) is not in the module's outbound.operations/],
    ['a topic with neither an event type nor control', { ...valid, inbound: { topics: [{ topic: '997' }] } }, /acme\/manifest\.json\/inbound\/topics\/0/],
    ['a control topic without a resolve stage to do its work', { ...valid, inbound: { topics: [{ topic: '997', control: true }] } }, /inbound\/topics\/0/],
    ['a control topic that names an event type', { ...valid, inbound: { topics: [{ topic: '997', control: true, resolve: true, eventType: 'order.created' }] } }, /inbound\/topics\/0/],
    ['a mapping that does not exist', { ...valid, inbound: { topics: [{ topic: 'orders/create', eventType: 'order.created', mapping: 'acme/none' }] } }, /mappings\/acme\/none\.jsonata does not exist/],
  ])('refuses to boot on %s, naming the file', (_name, manifest, message) => {
    const root = fakeRoot({ acme: { manifest } });
    expect(() => ConnectorRegistry.load(root, root)).toThrow(message);
  });

  it('takes a control topic (no event, its resolve stage does the work) and a rate limit per operation', () => {
    const manifest = { ...valid, inbound: { topics: [{ topic: '997', control: true, resolve: true }] }, rateLimits: { getOrders: { rate: 0.0167, burst: 20 } } };
    const root = fakeRoot({ acme: { manifest, code: 'module.exports = { inbound: { resolve: async () => ({ ok: true, body: "{}" }) }, outbound: { operations: {} } };' } });
    expect(ConnectorRegistry.load(root, root).get('acme')?.manifest.rateLimits).toEqual({ getOrders: { rate: 0.0167, burst: 20 } });
    const unlimited = fakeRoot({ acme: { manifest: { ...valid, rateLimits: { getOrders: { rate: 0, burst: 20 } } } } });
    expect(() => ConnectorRegistry.load(unlimited, unlimited)).toThrow(/rateLimits\/getOrders\/rate/);
  });

  it('gives every connection config a baseUrl', () => {
    const root = fakeRoot({ acme: { manifest: { ...valid, config: { type: 'object', additionalProperties: false, properties: { shop: { type: 'string' } } } } } });
    const properties = (ConnectorRegistry.load(root, root).get('acme')!.manifest.config as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(properties).sort()).toEqual(['baseUrl', 'shop']);
  });

  it('refuses a manifest that declares inbound topics when the module exports no inbound', () => {
    const root = fakeRoot({ acme: { manifest: { ...valid, inbound: { topics: [] } }, code: 'module.exports = { outbound: {} };' } });
    expect(() => ConnectorRegistry.load(root, root)).toThrow(/declares inbound topics but its module exports no inbound/);
  });
});
