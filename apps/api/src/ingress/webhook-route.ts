import { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorCode, HubError, ReasonCode } from '@omnihub/core';
import { errorBody } from '../http/error-body';
import { IngressService } from './ingress.service';

/** What a webhook refused during a shutdown tells the vendor: retry soon (another instance, or this one restarted, answers). */
const RETRY_AFTER_SHUTDOWN_S = 5;

/**
 * `POST /webhooks/:connectionId`, registered as a Fastify route in its own encapsulated context:
 * there every content type is read as raw bytes (signatures are over the exact bytes, and an
 * authentic but malformed body must still be accepted), while the admin API keeps normal JSON parsing.
 */
export function webhookRoutePlugin(ingress: IngressService, maxBodyBytes: number) {
  return async (fastify: FastifyInstance): Promise<void> => {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));

    // Stopping: refused before the body is read, so nothing new is stored; readiness fails meanwhile.
    fastify.addHook('onRequest', async (_request, reply) => {
      if (!ingress.draining) return;
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_SHUTDOWN_S))
        .header('connection', 'close')
        .send(errorBody(ApiErrorCode.SHUTTING_DOWN, 'the hub is shutting down; nothing was stored, retry later'));
    });

    fastify.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const { connectionId } = request.params as { connectionId?: string };
        request.log.info({ connection: { id: connectionId }, reasonCode: ReasonCode.PAYLOAD_TOO_LARGE, status: 413 }, `webhook refused: body exceeds the limit of ${maxBodyBytes} bytes`);
        return reply.code(413).send(errorBody(ReasonCode.PAYLOAD_TOO_LARGE, `body exceeds the limit of ${maxBodyBytes} bytes`));
      }
      if (error instanceof HubError) return reply.code(error.httpStatus).send(errorBody(error.code, error.message, error.details));
      if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send(errorBody(ReasonCode.INVALID_PAYLOAD, error.message));
      fastify.log.error(error);
      return reply.code(500).send(errorBody('INTERNAL', 'the hub could not store this webhook; retry later'));
    });

    fastify.post('/webhooks/:connectionId', { bodyLimit: maxBodyBytes }, async (request: FastifyRequest, reply: FastifyReply) => {
      const { connectionId } = request.params as { connectionId: string };
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await ingress.accept(connectionId, body, request.headers);
      return reply
        .code(result.duplicate ? 200 : 202)
        .send({ messageId: result.messageId, status: result.duplicate ? 'duplicate' : 'accepted' });
    });
  };
}
