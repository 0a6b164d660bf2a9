// Process entry: config → telemetry (later, via `node --import`) → server → graceful shutdown.
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './platform/logger.ts';
import { exitOnSignals, startServer } from './server.ts';

try {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  exitOnSignals(await startServer({ config, logger }), logger);
} catch (error) {
  const logger = createLogger({ level: 'info' });
  if (error instanceof ConfigError) logger.fatal({ problems: error.problems }, error.message);
  else logger.fatal({ err: error }, 'start-up failed');
  process.exit(1);
}
