export * from './classify';
export * from './contracts';
export * from './http-client';
export * from './manifest';
export * from './registry';
export * from './signatures';
export * from './connectors.module';
