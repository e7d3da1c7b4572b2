export * from './queue-names';
export * from './queue.service';
export * from './queueing.module';
export * from './redis';
export * from './circuit-store';
export * from './entity-locks';
export * from './leases';
export * from './token-buckets';
