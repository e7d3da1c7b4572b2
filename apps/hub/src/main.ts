import 'reflect-metadata';
import { loadConfig } from '@omnihub/core';
import { createHubApp } from './bootstrap';
import { preflight } from './preflight';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`Omnihub configuration error: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const problem = await preflight(config);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
  const app = await createHubApp(config);
  // Graceful stop: finish in-flight jobs and requests, close queues and the database, exit 0.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen({ port: config.port, host: '0.0.0.0' });
  process.stdout.write(`Omnihub (${config.role}) listening on ${config.publicUrl}\n`);
}

void main().catch((error: Error) => {
  process.stderr.write(`Omnihub failed to start: ${error.message}\n`);
  process.exit(1);
});
