import { Module } from '@nestjs/common';
import { IngestModule } from '@omnihub/ingest';
import { APP_FILTER } from '@nestjs/core';
import { ApiKeysController } from './admin/api-keys.controller';
import { AuditService } from './admin/audit.service';
import { ConnectionsController } from './admin/connections.controller';
import { ConnectorsController } from './admin/connectors.controller';
import { DeadLettersController } from './admin/dead-letters.controller';
import { DeliveriesController } from './admin/deliveries.controller';
import { DeadLettersService } from './admin/dead-letters.service';
import { MappingsController } from './admin/mappings.controller';
import { MessagesController } from './admin/messages.controller';
import { RoutesController } from './admin/routes.controller';
import { StatsController } from './admin/stats.controller';
import { XrefsController } from './admin/xrefs.controller';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeysService } from './auth/api-keys.service';
import { HubExceptionFilter } from './http/hub-exception.filter';
import { IngressService } from './ingress/ingress.service';

/** The api role: webhook ingress (registered as a raw Fastify route, see webhook-route.ts) and the admin API. */
@Module({
  imports: [IngestModule],
  controllers: [ApiKeysController, ConnectorsController, ConnectionsController, RoutesController, MappingsController, MessagesController, DeadLettersController, DeliveriesController, StatsController, XrefsController],
  providers: [
    IngressService,
    ApiKeysService,
    AuditService,
    DeadLettersService,
    { provide: APP_FILTER, useClass: HubExceptionFilter },
    ApiKeyGuard,
  ],
  exports: [IngressService],
})
export class ApiModule {}
