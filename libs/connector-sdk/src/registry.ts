import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { codeRoot, projectRoot } from '@omnihub/core';
import { ConnectorModule, ConnectorPoller } from './contracts';
import { BASE_URL_PROPERTY, ConnectorManifest, MANIFEST_SCHEMA } from './manifest';

export interface RegisteredConnector {
  manifest: ConnectorManifest;
  module: ConnectorModule;
}

/**
 * Every folder under connectors/ is a connector: its manifest.json says what it is, its index
 * module says how. Loaded once at boot; a bad manifest or a broken link stops the boot with a
 * message naming the file, so a mistake never becomes a silent 204 at run time.
 */
export class ConnectorRegistry {
  private readonly connectors = new Map<string, RegisteredConnector>();

  static load(root = projectRoot(), code = codeRoot()): ConnectorRegistry {
    const registry = new ConnectorRegistry();
    const problems: string[] = [];
    const validate = new Ajv({ allErrors: true }).compile(MANIFEST_SCHEMA);
    const connectorsDir = path.join(root, 'connectors');
    for (const entry of fs.readdirSync(connectorsDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const manifestPath = path.join(connectorsDir, entry.name, 'manifest.json');
      if (!fs.existsSync(manifestPath)) {
        problems.push(`${manifestPath} is missing`);
        continue;
      }
      const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as ConnectorManifest;
      if (!validate(manifest)) {
        for (const error of validate.errors ?? []) problems.push(`${manifestPath}${error.instancePath || '/'}: ${error.message}`);
        continue;
      }
      if (manifest.id !== entry.name) problems.push(`${manifestPath}: id "${manifest.id}" must equal its folder name "${entry.name}"`);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const module = require(path.join(code, 'connectors', entry.name)) as ConnectorModule;
      if (manifest.inbound && !module.inbound) problems.push(`${manifestPath} declares inbound topics but its module exports no inbound`);
      if (manifest.outbound && !module.outbound) problems.push(`${manifestPath} declares outbound operations but its module exports no outbound`);
      for (const topic of manifest.inbound?.topics ?? []) {
        if (topic.resolve && !module.inbound?.resolve) problems.push(`${manifestPath}: topic "${topic.topic}" says resolve, but the module's inbound has no resolve stage`);
      }
      for (const operation of manifest.outbound?.operations ?? []) {
        if (module.outbound && typeof module.outbound.operations?.[operation.operation] !== 'function') {
          problems.push(`${manifestPath}: operation "${operation.operation}" (for ${operation.eventType}) is not in the module's outbound.operations`);
        }
      }
      withBaseUrl(manifest);
      const mappings = [...(manifest.inbound?.topics ?? []), ...(manifest.outbound?.operations ?? [])].flatMap((t) => (t.mapping ? [t.mapping] : []));
      for (const mapping of mappings) {
        if (!fs.existsSync(path.join(root, 'mappings', `${mapping}.jsonata`))) problems.push(`${manifestPath} names mapping "${mapping}", but mappings/${mapping}.jsonata does not exist`);
      }
      registry.connectors.set(manifest.id, { manifest, module });
    }
    if (problems.length > 0) throw new Error(`connector registry refused to load:\n  ${problems.join('\n  ')}`);
    return registry;
  }

  get(id: string): RegisteredConnector | undefined {
    return this.connectors.get(id);
  }

  list(): RegisteredConnector[] {
    return [...this.connectors.values()].sort((a, b) => a.manifest.id.localeCompare(b.manifest.id));
  }
}

/** Whether a message of this topic goes through the connector's resolve stage (its manifest says so, and the module has one). */
export function resolvesTopic(connector: RegisteredConnector | undefined, topic: string): boolean {
  return Boolean(connector?.module.inbound?.resolve && connector.manifest.inbound?.topics.some((t) => t.topic === topic && t.resolve));
}

/** Every connection's config accepts baseUrl (see BASE_URL_PROPERTY), whatever its manifest lists. */
function withBaseUrl(manifest: ConnectorManifest): void {
  const config = manifest.config as { properties?: Record<string, unknown> };
  config.properties = { ...(config.properties ?? {}), baseUrl: BASE_URL_PROPERTY };
}

/**
 * The poller of a connection that is to be polled now, with its interval: its connector has one,
 * the connection's config gives an interval, and it is not paused. One rule for the worker's
 * schedules and the admin API's view of them.
 */
export function pollerOf(
  registry: ConnectorRegistry,
  connection: { id: string; connector: string; config: Record<string, unknown>; secrets: Record<string, string>; delivery: { paused: boolean } },
): { poller: ConnectorPoller; intervalMs: number } | undefined {
  const poller = registry.get(connection.connector)?.module.poller;
  if (!poller || connection.delivery.paused) return undefined;
  const intervalMs = poller.intervalMs({ connectionId: connection.id, config: connection.config, secrets: connection.secrets });
  return intervalMs && intervalMs > 0 ? { poller, intervalMs } : undefined;
}
