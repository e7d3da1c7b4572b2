import { Body, Controller, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { ApiErrors, bodySchema } from '../http/openapi';
import { ApiKeyGuard, AuthenticatedRequest, Requires } from '../auth/api-key.guard';
import { validateAgainst } from '../http/validate-body';
import { DELIVERY } from './api-schemas';
import { AuditService } from './audit.service';
import { DeadLettersService } from './dead-letters.service';

const REPLAY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    force: { type: 'boolean', description: 'Superseded deliveries: send this older version anyway, overwriting the newer one the destination has.' },
  },
};

/** Deliveries by their own id (a message's view lists them with every attempt). */
@ApiTags('deliveries')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('api/deliveries')
export class DeliveriesController {
  constructor(
    private readonly service: DeadLettersService,
    private readonly audit: AuditService,
  ) {}

  @ApiBody({ schema: bodySchema(REPLAY_SCHEMA) })
  @ApiAcceptedResponse({ schema: DELIVERY, description: 'Queued again' })
  @ApiErrors(400, 404, 409)
  @Post(':id/replay')
  @Requires('operate')
  @HttpCode(202)
  async replay(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const input = validateAgainst<{ force?: boolean }>(REPLAY_SCHEMA, body ?? {}, 'replay');
    const result = await this.service.replayDelivery(id, { force: input.force === true });
    await this.audit.record(request, 'delivery.replay', 'delivery', id, { force: input.force === true });
    return result;
  }
}
