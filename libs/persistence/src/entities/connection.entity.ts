import { JsonObject } from '@omnihub/core';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimestampColumn } from '../columns';

/** A destination's delivery settings (DESIGN.md §5); every field has a default in DeliverySettings. */
export interface DeliverySettings {
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  concurrency: number;
  /** 0 means unlimited. */
  ratePerSecond: number;
  /** A paused destination keeps its deliveries queued (in order, nothing lost) until resumed. */
  paused: boolean;
  /**
   * The circuit breaker opens when at least `circuitFailureRatePercent` % of at least
   * `circuitMinimumCalls` calls in the last `circuitWindowMs` failed (5xx, timeouts, network
   * errors), counted across every worker process; `circuitMinimumCalls: 0` turns it off.
   */
  circuitFailureRatePercent: number;
  circuitMinimumCalls: number;
  circuitWindowMs: number;
  /** How long an open circuit holds deliveries before one probe; doubles per failed probe. */
  circuitOpenMs: number;
  circuitMaxOpenMs: number;
  /** A delivery held by an open circuit longer than this is dead-lettered as CIRCUIT_OPEN. */
  circuitMaxHoldMs: number;
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  maxAttempts: 8,
  backoffMs: 1000,
  maxBackoffMs: 5 * 60 * 1000,
  timeoutMs: 10000,
  // Requests in flight across all worker processes: a third of NetSuite's smallest account-wide limit (15, shared by every integration).
  concurrency: 5,
  ratePerSecond: 0,
  paused: false,
  circuitFailureRatePercent: 50,
  circuitMinimumCalls: 20,
  circuitWindowMs: 10000,
  circuitOpenMs: 5000,
  circuitMaxOpenMs: 60000,
  circuitMaxHoldMs: 24 * 60 * 60 * 1000,
};

@Entity('connections')
export class ConnectionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 100 }) connector!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column(JsonColumn()) config!: JsonObject;
  /** Encrypted at rest (SecretBox); plaintext never leaves the process. */
  @Column({ type: 'text', name: 'secrets_ciphertext' }) secretsCiphertext!: string;
  @Column(JsonColumn()) delivery!: DeliverySettings;
  @Column(TimestampColumn({ name: 'created_at' })) createdAt!: Date;
  @Column(TimestampColumn({ name: 'updated_at' })) updatedAt!: Date;
}
