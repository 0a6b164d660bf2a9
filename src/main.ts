// Process entry: config → telemetry (later, via `node --import`) → server → graceful shutdown.
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './platform/logger.ts';
import { startServer } from './server.ts';

const bootLogger = createLogger({ level: 'info' });
try {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const running = await startServer({ config, logger });
  const stop = (signal: NodeJS.Signals) => {
    if (running.lifecycle.stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    running.shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  if (error instanceof ConfigError) {
    bootLogger.fatal({ problems: error.problems }, error.message);
  } else {
    bootLogger.fatal({ err: error }, 'start-up failed');
  }
  process.exit(1);
}
