import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
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

  async all(): Promise<LiveConnection[]> {
    return (await this.connections.find()).map((entity) => this.toLive(entity));
  }

  invalidate(): void {
    this.cache.clear();
  }

  toLive(entity: ConnectionEntity): LiveConnection {
    return {
      id: entity.id,
      connector: entity.connector,
      name: entity.name,
      config: entity.config,
      secrets: this.secretBox.open(entity.secretsCiphertext),
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
