import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CONNECTOR_LIST } from './api-schemas';

/** The catalogue: what each connector is, what it receives and sends, and what it needs configured. */
@ApiTags('connectors')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/connectors')
export class ConnectorsController {
  constructor(private readonly registry: ConnectorRegistry) {}

  @ApiOkResponse({ schema: CONNECTOR_LIST, description: 'Each manifest, with what its module can do' })
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
