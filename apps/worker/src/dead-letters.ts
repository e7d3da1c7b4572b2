import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { ErrorDetail, ReasonCode, errorFingerprint } from '@omnihub/core';
import { DeadLetterEntity, DeadLetterStage } from '@omnihub/persistence';

export interface DeadLetterInput {
  stage: DeadLetterStage;
  messageId: string;
  deliveryId: string | null;
  connectionId: string;
  reasonCode: ReasonCode;
  error: string;
  details: ErrorDetail[];
}

/** Opens the dead letter for a subject, or reopens it when a replay failed again. Runs inside the caller's transaction. */
export async function openDeadLetter(manager: EntityManager, input: DeadLetterInput): Promise<void> {
  const repo = manager.getRepository(DeadLetterEntity);
  const subjectId = input.deliveryId ?? input.messageId;
  const now = new Date();
  const fingerprint = errorFingerprint(input.reasonCode, input.error);
  const existing = await repo.findOneBy({ subjectId });
  if (existing) {
    await repo.update({ id: existing.id }, { status: 'open', reasonCode: input.reasonCode, error: input.error, fingerprint, details: input.details, discardReason: null, updatedAt: now });
    return;
  }
  await repo.insert({ id: randomUUID(), subjectId, ...input, fingerprint, status: 'open', replayCount: 0, discardReason: null, createdAt: now, updatedAt: now });
}
