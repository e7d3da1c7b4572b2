import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { JsonObject } from '@omnihub/core';
import { AuditEntryEntity } from '@omnihub/persistence';
import { AuthenticatedRequest } from '../auth/api-key.guard';

/** Records who changed what. Callers pass details without secret values. */
@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEntryEntity) private readonly entries: Repository<AuditEntryEntity>) {}

  async record(request: AuthenticatedRequest, action: string, targetType: string, targetId: string, details: JsonObject = {}): Promise<void> {
    await this.entries.insert({ id: randomUUID(), apiKeyId: request.caller?.apiKeyId ?? null, action, targetType, targetId, details, at: new Date() });
  }
}
