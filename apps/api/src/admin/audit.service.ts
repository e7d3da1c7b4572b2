import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { JsonObject } from '@omnihub/core';
import { AuditEntryEntity } from '@omnihub/persistence';
import { AuthenticatedRequest } from '../auth/api-key.guard';

/** Records who changed what, and says so at info. Callers pass details without secret values. */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(@InjectRepository(AuditEntryEntity) private readonly entries: Repository<AuditEntryEntity>) {}

  async record(request: AuthenticatedRequest, action: string, targetType: string, targetId: string, details: JsonObject = {}): Promise<void> {
    const apiKeyId = request.caller?.apiKeyId ?? null;
    await this.entries.insert({ id: randomUUID(), apiKeyId, action, targetType, targetId, details, at: new Date() });
    this.logger.log({ msg: `admin change: ${action} ${targetType} ${targetId}`, action, target: { type: targetType, id: targetId }, apiKeyId, details });
  }
}
