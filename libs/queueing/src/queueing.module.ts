import { Global, Module } from '@nestjs/common';
import { CircuitStore } from './circuit-store';
import { EntityLocks } from './entity-locks';
import { QueueService } from './queue.service';

@Global()
@Module({ providers: [QueueService, CircuitStore, EntityLocks], exports: [QueueService, CircuitStore, EntityLocks] })
export class QueueingModule {}
