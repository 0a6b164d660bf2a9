// k6 provides `console` (log, info, debug, warn, error: its logger); @types/k6 leaves it to the DOM lib,
// which the scripts must not load.
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
