import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HUB_CONFIG, HubConfig, HubError } from '@omnihub/core';
import { ConnectionEntity, DEFAULT_DELIVERY_SETTINGS, DeliverySettings } from './entities/connection.entity';
import { RouteEntity } from './entities/route.entity';
import { SecretBox } from './secret-box';

/** A connection as the message path uses it: settings resolved, secrets decrypted, in memory only. */
export interface LiveConnection {
  id: string;
  connector: string;
  name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  delivery: DeliverySettings;
  updatedAt: Date;
}

/** Short enough that a change made by another process shows within seconds; this process's own changes invalidate at once. */
const CACHE_TTL_MS = 2000;

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expires < Date.now()) return undefined;
    return entry.value;
  }
  set(key: string, value: V): void {
    this.entries.set(key, { value, expires: Date.now() + CACHE_TTL_MS });
  }
  clear(): void {
    this.entries.clear();
  }
}

@Injectable()
export class ConnectionStore {
  private readonly logger = new Logger(ConnectionStore.name);
  readonly secretBox: SecretBox;
  private readonly cache = new TtlCache<LiveConnection | null>();

  constructor(
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
    @Inject(HUB_CONFIG) config: HubConfig,
  ) {
    this.secretBox = SecretBox.fromEnvironment(config.secretKey, config.dataDir);
  }

  async get(id: string): Promise<LiveConnection | undefined> {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached ?? undefined;
    const entity = await this.connections.findOneBy({ id });
    const live = entity ? this.toLive(entity) : null;
    this.cache.set(id, live);
    return live ?? undefined;
  }

  /** Every usable connection. One whose secrets cannot be decrypted is skipped (and logged), never fatal to the rest. */
  async all(): Promise<LiveConnection[]> {
    const live: LiveConnection[] = [];
    for (const entity of await this.connections.find()) {
      try {
        live.push(this.toLive(entity));
      } catch (error) {
        this.logger.warn(`${(error as Error).message}; skipping it`);
      }
    }
    return live;
  }

  invalidate(): void {
    this.cache.clear();
  }

  toLive(entity: ConnectionEntity): LiveConnection {
    let secrets: Record<string, string>;
    try {
      secrets = this.secretBox.open(entity.secretsCiphertext);
    } catch {
      // 503, not 4xx: the sender should retry once an operator restores the right HUB_SECRET_KEY.
      throw new HubError('INTERNAL', `the secrets of connection ${entity.id} cannot be decrypted (was HUB_SECRET_KEY changed?)`, 503);
    }
    return {
      id: entity.id,
      connector: entity.connector,
      name: entity.name,
      config: entity.config,
      secrets,
      delivery: { ...DEFAULT_DELIVERY_SETTINGS, ...entity.delivery },
      updatedAt: entity.updatedAt,
    };
  }
}

@Injectable()
export class RouteStore {
  private readonly cache = new TtlCache<RouteEntity[]>();

  constructor(@InjectRepository(RouteEntity) private readonly routes: Repository<RouteEntity>) {}

  /** Enabled routes leaving a source connection. */
  async fromSource(sourceConnectionId: string): Promise<RouteEntity[]> {
    const cached = this.cache.get(sourceConnectionId);
    if (cached) return cached;
    const routes = await this.routes.findBy({ sourceConnectionId, enabled: true });
    this.cache.set(sourceConnectionId, routes);
    return routes;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
