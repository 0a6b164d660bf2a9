import { readFileSync } from 'node:fs';

/** The package version (dist/ and src/telemetry/ both sit two levels below package.json… or one). */
export const VERSION: string = (() => {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (parsed.name === 'stowage') return parsed.version;
    } catch {}
  }
  return 'unknown';
})();
