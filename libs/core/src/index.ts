export * from './canonical';
export * from './config';
export * from './errors';
export * from './json';
export * from './paths';
export * from './reason-codes';
export * from './config.module';
export * from './ids';
