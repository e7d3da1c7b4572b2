import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { ApiKeyGuard } from '../auth/api-key.guard';

/** The catalogue: what each connector is, what it receives and sends, and what it needs configured. */
@ApiTags('connectors')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/connectors')
export class ConnectorsController {
  constructor(private readonly registry: ConnectorRegistry) {}

  @Get()
  list() {
    return {
      items: this.registry.list().map(({ manifest, module }) => ({
        ...manifest,
        capabilities: { inbound: Boolean(module.inbound), outbound: Boolean(module.outbound) },
      })),
    };
  }
}
