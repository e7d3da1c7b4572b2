export * from './canonical-transformer';
export * from './jsonata-runner';
export * from './mapping-catalog';
export * from './mapping.module';
export * from './schema-registry';
