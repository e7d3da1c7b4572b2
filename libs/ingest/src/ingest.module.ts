import { Module } from '@nestjs/common';
import { IngestService } from './ingest.service';

/** One IngestService per process, shared by webhook ingress and the pollers (one group commit for both). */
@Module({ providers: [IngestService], exports: [IngestService] })
export class IngestModule {}
