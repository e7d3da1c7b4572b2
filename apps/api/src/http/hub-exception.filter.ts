import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { ApiErrorCode, HubError, ReasonCode } from '@omnihub/core';
import { errorBody } from './error-body';

const CODE_BY_STATUS: Record<number, string> = {
  400: ApiErrorCode.VALIDATION_FAILED,
  401: ApiErrorCode.UNAUTHORIZED,
  403: ApiErrorCode.FORBIDDEN,
  404: ApiErrorCode.NOT_FOUND,
  409: ApiErrorCode.CONFLICT,
  413: ReasonCode.PAYLOAD_TOO_LARGE,
};

/** Maps every error of the admin API to `{ error: { code, message, details } }`; internals are logged, never shown. */
@Catch()
export class HubExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HubError) {
      void reply.code(exception.httpStatus).send(errorBody(exception.code, exception.message, exception.details));
      return;
    }
    const status = exception instanceof HttpException ? exception.getStatus() : ((exception as { statusCode?: number }).statusCode ?? 500);
    if (status < 500) {
      const message = exception instanceof Error ? exception.message : 'bad request';
      void reply.code(status).send(errorBody(CODE_BY_STATUS[status] ?? ApiErrorCode.VALIDATION_FAILED, message));
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    void reply.code(500).send(errorBody(ApiErrorCode.INTERNAL, 'internal error; see the hub log'));
  }
}
