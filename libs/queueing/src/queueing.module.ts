import { Global, Module } from '@nestjs/common';
import { CircuitStore } from './circuit-store';
import { EntityLocks } from './entity-locks';
import { Leases } from './leases';
import { TokenBuckets } from './token-buckets';
import { QueueService } from './queue.service';

@Global()
@Module({ providers: [QueueService, CircuitStore, EntityLocks, Leases, TokenBuckets], exports: [QueueService, CircuitStore, EntityLocks, Leases, TokenBuckets] })
export class QueueingModule {}
