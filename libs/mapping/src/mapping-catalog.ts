import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HubError, projectRoot } from '@omnihub/core';
import { MappingVersionEntity } from '@omnihub/persistence';
import { CompiledMapping } from './jsonata-runner';

/** A mapping's sidecar `<name>.json`: what it reads and what it produces. */
export interface MappingMetadata {
  description?: string;
  source?: { connector: string; topic?: string };
  target: { eventType?: string; schemaVersion?: string };
}

export interface LiveMapping {
  id: string;
  version: number;
  targetEventType: string | null;
  expression: string;
  /** Identifies this exact version, so mapping threads compile it once. */
  key: string;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex');
const REFRESH_MS = 2000;

/**
 * JSONata mappings: files under mappings/<connector>/<name>.jsonata are the source an integration
 * team edits; every distinct content becomes a numbered version in the database, and the highest
 * version is live. Publishing through the API adds a version without touching the files.
 * Expressions are checked when published and compiled once per version by each mapping thread.
 */
@Injectable()
export class MappingCatalog implements OnModuleInit {
  private readonly live = new Map<string, { mapping: LiveMapping; checkedAt: number }>();

  constructor(@InjectRepository(MappingVersionEntity) private readonly versions: Repository<MappingVersionEntity>) {}

  async onModuleInit(): Promise<void> {
    await this.syncFromFiles();
  }

  /** Reads mappings/ and records each file whose content is not yet a version. Compile errors stop the boot. */
  async syncFromFiles(root = projectRoot()): Promise<void> {
    for (const file of listMappingFiles(path.join(root, 'mappings'))) {
      const id = file.id;
      const expression = fs.readFileSync(file.path, 'utf8');
      try {
        CompiledMapping.compile(expression);
      } catch (error) {
        throw new Error(`mappings/${id}.jsonata does not compile: ${(error as Error).message}`);
      }
      const metadata = readMetadata(file.path);
      const contentHash = hash(expression);
      const latest = await this.versions.findOne({ where: { mappingId: id }, order: { version: 'DESC' } });
      if (latest?.contentHash === contentHash) continue;
      const seen = await this.versions.findOneBy({ mappingId: id, contentHash, origin: 'file' });
      if (seen) continue; // a later API publish overrides this file until the file itself changes
      await this.insertVersion(id, expression, metadata?.target.eventType ?? null, 'file', (latest?.version ?? 0) + 1);
    }
  }

  async publish(id: string, expression: string, targetEventType: string | null): Promise<MappingVersionEntity> {
    try {
      CompiledMapping.compile(expression);
    } catch (error) {
      throw HubError.validation('the mapping does not compile', [{ path: '/expression', message: (error as Error).message }]);
    }
    const latest = await this.versions.findOne({ where: { mappingId: id }, order: { version: 'DESC' } });
    const saved = await this.insertVersion(id, expression, targetEventType ?? latest?.targetEventType ?? null, 'api', (latest?.version ?? 0) + 1);
    this.live.delete(id);
    return saved;
  }

  /** The live version of a mapping; re-checked against the database every few seconds. */
  async get(id: string): Promise<LiveMapping | undefined> {
    const cached = this.live.get(id);
    if (cached && Date.now() - cached.checkedAt < REFRESH_MS) return cached.mapping;
    const latest = await this.versions.findOne({ where: { mappingId: id }, order: { version: 'DESC' } });
    if (!latest) return undefined;
    const mapping =
      cached && cached.mapping.version === latest.version
        ? cached.mapping
        : { id, version: latest.version, targetEventType: latest.targetEventType, expression: latest.expression, key: `${id}@${latest.version}` };
    this.live.set(id, { mapping, checkedAt: Date.now() });
    return mapping;
  }

  async list(): Promise<Array<{ id: string; version: number; targetEventType: string | null; updatedAt: Date }>> {
    const rows = await this.versions.find({ order: { mappingId: 'ASC', version: 'DESC' } });
    const seen = new Map<string, { id: string; version: number; targetEventType: string | null; updatedAt: Date }>();
    for (const row of rows) {
      if (!seen.has(row.mappingId)) seen.set(row.mappingId, { id: row.mappingId, version: row.version, targetEventType: row.targetEventType, updatedAt: row.createdAt });
    }
    return [...seen.values()];
  }

  async history(id: string): Promise<MappingVersionEntity[]> {
    return this.versions.find({ where: { mappingId: id }, order: { version: 'DESC' } });
  }

  private insertVersion(mappingId: string, expression: string, targetEventType: string | null, origin: string, version: number) {
    return this.versions.save(
      this.versions.create({ id: randomUUID(), mappingId, version, expression, targetEventType, origin, contentHash: hash(expression), createdAt: new Date() }),
    );
  }
}

function listMappingFiles(dir: string): Array<{ id: string; path: string }> {
  if (!fs.existsSync(dir)) return [];
  const out: Array<{ id: string; path: string }> = [];
  for (const connector of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!connector.isDirectory()) continue;
    for (const file of fs.readdirSync(path.join(dir, connector.name))) {
      if (file.endsWith('.jsonata')) out.push({ id: `${connector.name}/${file.replace(/\.jsonata$/, '')}`, path: path.join(dir, connector.name, file) });
    }
  }
  return out;
}

function readMetadata(jsonataPath: string): MappingMetadata | undefined {
  const metaPath = jsonataPath.replace(/\.jsonata$/, '.json');
  return fs.existsSync(metaPath) ? (JSON.parse(fs.readFileSync(metaPath, 'utf8')) as MappingMetadata) : undefined;
}
