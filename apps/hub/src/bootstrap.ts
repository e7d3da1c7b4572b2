import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { HubConfig, hubLogger } from '@omnihub/core';
import { IngressService } from '../../api/src/ingress/ingress.service';
import { webhookRoutePlugin } from '../../api/src/ingress/webhook-route';
import { mountOpenApi } from '../../api/src/http/openapi';
import { HubModule } from './hub.module';

/**
 * Nest's Logger backed by the hub's pino logger (nestjs-pino), handed to NestFactory itself rather
 * than swapped in after boot (bufferLogs would print the buffer as coloured text if the boot fails):
 * Nest's own lines and every `new Logger(Class.name)` call site write JSON at HUB_LOG_LEVEL from the
 * first line, with `context` naming the class.
 */
export function nestLogger(logger: Logger): LoggerService {
  return new HubNestLogger(new PinoLogger({ pinoHttp: { logger } }), {});
}

/** Nest's own start-up lines (modules loaded, every route mapped): debug, not what an operator reads at info. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

class HubNestLogger extends PinoNestLogger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context)) super.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}

/**
 * Builds the hub as one Nest application on Fastify. The worker role needs no HTTP server but gets
 * one anyway for /health, so every process can be probed the same way.
 */
export async function createHubApp(config: HubConfig): Promise<NestFastifyApplication> {
  // return503OnClosing off: while the server closes, requests on open connections still reach the
  // routes, so a webhook gets the ingress's structured 503 with Retry-After (see shutdown.ts).
  // Fastify logs through the same pino logger; its own request lines (two per request, at info) are
  // off, replaced by one line per request at debug, headers redacted (see libs/core/src/logging.ts).
  const logger = hubLogger(config.logLevel);
  const adapter = new FastifyAdapter({
    bodyLimit: config.maxBodyBytes,
    trustProxy: true,
    return503OnClosing: false,
    loggerInstance: logger.child({ context: 'HTTP' }),
    disableRequestLogging: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(HubModule.forConfig(config), adapter, {
    logger: nestLogger(logger),
    abortOnError: false,
  });
  if (logger.isLevelEnabled('debug')) {
    app.getHttpAdapter().getInstance().addHook('onResponse', async (request, reply) => {
      request.log.debug({ req: request, res: reply, responseTimeMs: Math.round(reply.elapsedTime) }, 'request completed');
    });
  }
  if (config.role !== 'worker') {
    await app.register(webhookRoutePlugin(app.get(IngressService), config.maxBodyBytes));
    mountOpenApi(app);
  }
  return app;
}
