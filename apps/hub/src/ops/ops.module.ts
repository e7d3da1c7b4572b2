import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What every process serves, whatever its role: health probes and Prometheus metrics. */
@Module({ controllers: [HealthController, MetricsController] })
export class OpsModule {}
