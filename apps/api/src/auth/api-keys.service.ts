import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HUB_CONFIG, HubConfig, HubError, startupNotices } from '@omnihub/core';
import { ApiKeyEntity, ApiRole } from '@omnihub/persistence';

export interface Caller {
  apiKeyId: string;
  role: ApiRole;
}

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
const CACHE_MS = 30000;

@Injectable()
export class ApiKeysService implements OnModuleInit {
  private readonly cache = new Map<string, { caller: Caller | null; until: number }>();

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  /** Ensures an admin key exists: HUB_ADMIN_API_KEY, or on first start a generated one printed once. */
  async onModuleInit(): Promise<void> {
    if (this.config.adminApiKey) {
      const keyHash = hashKey(this.config.adminApiKey);
      if (!(await this.keys.findOneBy({ keyHash }))) {
        await this.keys.insert({ id: randomUUID(), name: 'bootstrap (HUB_ADMIN_API_KEY)', keyHash, role: 'admin', createdAt: new Date() });
      }
      return;
    }
    if ((await this.keys.countBy({ role: 'admin' })) > 0) return;
    const { key } = await this.create('bootstrap (generated)', 'admin');
    // The one secret the hub writes out, on purpose and once: it is the only way to learn a generated
    // key. A JSON line of its own (its msg says what it is, `adminApiKey` holds it), printed whatever
    // HUB_LOG_LEVEL says, since a key missed here is lost; it is never logged again.
    startupNotices().warn({ adminApiKey: key }, 'Omnihub admin API key generated (shown once, store it now; or set HUB_ADMIN_API_KEY)');
  }

  /** Creates a key; its plaintext is returned here once and never stored. */
  async create(name: string, role: ApiRole): Promise<{ entity: ApiKeyEntity; key: string }> {
    const key = `ohk_${randomBytes(24).toString('base64url')}`;
    const entity = this.keys.create({ id: randomUUID(), name, keyHash: hashKey(key), role, createdAt: new Date() });
    await this.keys.insert(entity);
    return { entity, key };
  }

  list(): Promise<ApiKeyEntity[]> {
    return this.keys.find({ order: { createdAt: 'ASC' } });
  }

  /** Revokes a key at once in this process; other processes stop accepting it within the cache time (30 s). */
  async revoke(id: string): Promise<void> {
    const entity = await this.keys.findOneBy({ id });
    if (!entity) throw HubError.notFound('API key', id);
    if (entity.role === 'admin' && (await this.keys.countBy({ role: 'admin' })) <= 1) throw HubError.conflict('the last admin key cannot be revoked');
    await this.keys.delete({ id });
    this.cache.clear();
  }

  async authenticate(key: string): Promise<Caller | null> {
    const keyHash = hashKey(key);
    const cached = this.cache.get(keyHash);
    if (cached && cached.until > Date.now()) return cached.caller;
    const row = await this.keys.findOneBy({ keyHash });
    const caller = row ? { apiKeyId: row.id, role: row.role } : null;
    this.cache.set(keyHash, { caller, until: Date.now() + CACHE_MS });
    return caller;
  }
}
