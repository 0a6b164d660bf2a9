// Process entry: config → telemetry (later, via `node --import`) → server(s) → graceful shutdown.
import { runProcess } from './process.ts';

await runProcess();
