import { Global, Module } from '@nestjs/common';
import { CanonicalTransformer } from './canonical-transformer';
import { MappingCatalog } from './mapping-catalog';
import { SchemaRegistry } from './schema-registry';

@Global()
@Module({
  providers: [{ provide: SchemaRegistry, useFactory: () => SchemaRegistry.load() }, MappingCatalog, CanonicalTransformer],
  exports: [SchemaRegistry, MappingCatalog, CanonicalTransformer],
})
export class MappingModule {}
