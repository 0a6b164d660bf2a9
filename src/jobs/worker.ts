// Worker process entry (`pnpm worker`, `node dist/worker.js`): every background job, no public routes.
import { ConfigError, loadConfig } from '../config.ts';
import { createLogger } from '../platform/logger.ts';
import { startWorker } from './start-worker.ts';

try {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const worker = await startWorker({ config, logger });
  logger.info({ url: worker.url }, 'ready');
  const stop = (signal: NodeJS.Signals) => {
    if (worker.lifecycle.stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    worker.shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  const logger = createLogger({ level: 'info' });
  if (error instanceof ConfigError) logger.fatal({ problems: error.problems }, error.message);
  else logger.fatal({ err: error }, 'worker start-up failed');
  process.exit(1);
}
