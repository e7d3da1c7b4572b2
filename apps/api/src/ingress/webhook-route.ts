import { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError, ReasonCode } from '@omnihub/core';
import { errorBody } from '../http/error-body';
import { IngressService } from './ingress.service';

/**
 * `POST /webhooks/:connectionId`, registered as a Fastify route in its own encapsulated context:
 * there every content type is read as raw bytes (signatures are over the exact bytes, and an
 * authentic but malformed body must still be accepted), while the admin API keeps normal JSON parsing.
 */
export function webhookRoutePlugin(ingress: IngressService, maxBodyBytes: number) {
  return async (fastify: FastifyInstance): Promise<void> => {
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));

    fastify.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
      if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
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
