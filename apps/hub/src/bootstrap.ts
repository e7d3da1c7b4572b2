import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { HubConfig } from '@omnihub/core';
import { IngressService } from '../../api/src/ingress/ingress.service';
import { webhookRoutePlugin } from '../../api/src/ingress/webhook-route';
import { mountOpenApi } from '../../api/src/http/openapi';
import { HubModule } from './hub.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function logLevels(level: string): LogLevel[] {
  const wanted = level === 'info' ? 'log' : (level as LogLevel);
  const index = LEVELS.indexOf(wanted);
  return LEVELS.slice(0, index < 0 ? 3 : index + 1);
}

/**
 * Builds the hub as one Nest application on Fastify. The worker role needs no HTTP server but gets
 * one anyway for /health, so every process can be probed the same way.
 */
export async function createHubApp(config: HubConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.maxBodyBytes, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(HubModule.forConfig(config), adapter, {
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  if (config.role !== 'worker') {
    await app.register(webhookRoutePlugin(app.get(IngressService), config.maxBodyBytes));
    mountOpenApi(app);
  }
  return app;
}
