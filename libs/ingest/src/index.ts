export * from './ingest.service';
export * from './ingest.module';
