import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { HUB_CONFIG, HubConfig, HubError } from '@omnihub/core';
import { ConnectionEntity, DEFAULT_DELIVERY_SETTINGS, DeliverySettings } from './entities/connection.entity';
import { RouteEntity } from './entities/route.entity';
import { RefreshingCache } from './refreshing-cache';
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

/** Short enough that a change made by another process shows within seconds (2 × this at most); this process's own changes invalidate at once. */
const CACHE_TTL_MS = 2000;

@Injectable()
export class ConnectionStore {
  private readonly logger = new Logger(ConnectionStore.name);
  readonly secretBox: SecretBox;
  private readonly decrypted = new Map<string, { ciphertext: string; secrets: Record<string, string> }>();
  private readonly cache = new RefreshingCache<LiveConnection | null>(CACHE_TTL_MS, (id, error) =>
    this.logger.warn(`connection ${id} not refreshed, its cached settings still serve: ${(error as Error).message}`),
  );

  constructor(
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
    @Inject(HUB_CONFIG) config: HubConfig,
  ) {
    this.secretBox = SecretBox.fromEnvironment(config.secretKey, config.dataDir, config.previousSecretKey);
  }

  async get(id: string): Promise<LiveConnection | undefined> {
    const live = await this.cache.get(id, async () => {
      const entity = await this.connections.findOneBy({ id });
      return entity ? this.toLive(entity) : null;
    });
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
    this.cache.invalidate();
  }

  toLive(entity: ConnectionEntity): LiveConnection {
    let secrets: Record<string, string>;
    try {
      secrets = this.openSecrets(entity);
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

  /**
   * Decrypted when the ciphertext changes (an edit, a rotation), not on every cache refresh: the
   * cache re-reads each connection every few seconds, and the secrets rarely change.
   */
  private openSecrets(entity: ConnectionEntity): Record<string, string> {
    const known = this.decrypted.get(entity.id);
    if (known?.ciphertext === entity.secretsCiphertext) return known.secrets;
    const secrets = this.secretBox.open(entity.secretsCiphertext);
    this.decrypted.set(entity.id, { ciphertext: entity.secretsCiphertext, secrets });
    return secrets;
  }
}

@Injectable()
export class RouteStore {
  private readonly logger = new Logger(RouteStore.name);
  private readonly cache = new RefreshingCache<RouteEntity[]>(CACHE_TTL_MS, (id, error) =>
    this.logger.warn(`routes from ${id} not refreshed, the cached ones still serve: ${(error as Error).message}`),
  );

  constructor(@InjectRepository(RouteEntity) private readonly routes: Repository<RouteEntity>) {}

  /** The connections enabled routes deliver to. */
  async destinations(): Promise<Set<string>> {
    const rows = await this.routes.createQueryBuilder('r').select('DISTINCT r.destinationConnectionId', 'id').where('r.enabled = :enabled', { enabled: true }).getRawMany<{ id: string }>();
    return new Set(rows.map((row) => row.id));
  }

  /** Enabled routes leaving a source connection. */
  fromSource(sourceConnectionId: string): Promise<RouteEntity[]> {
    return this.cache.get(sourceConnectionId, () => this.routes.findBy({ sourceConnectionId, enabled: true }));
  }

  invalidate(): void {
    this.cache.invalidate();
  }
}
