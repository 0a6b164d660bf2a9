// runbook/security.md names, for each OWASP API risk, the tests that prove it. This keeps the table
// honest: every named test exists, under that exact title, in that file, and every risk has one.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const table = readFileSync(new URL('runbook/security.md', root), 'utf8');
const rows = table.split('\n').filter((line) => /^\| \*\*API\d+ /.test(line));
const REFERENCE = /`(test\/[\w./-]+\.test\.ts)` › "([^"]+)"/g;

describe('runbook/security.md', () => {
  it('has a row for each of the ten OWASP API Security risks (2023), each naming at least one test', () => {
    expect(rows.map((row) => /API(\d+)/.exec(row)![1])).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);
    for (const row of rows) expect([...row.matchAll(REFERENCE)].length, row.slice(0, 60)).toBeGreaterThan(0);
  });

  it('names only tests that exist, with their exact titles', () => {
    const missing: string[] = [];
    for (const [, file, title] of table.matchAll(REFERENCE)) {
      let source = '';
      try {
        source = readFileSync(new URL(file!, root), 'utf8');
      } catch {
        missing.push(`${file} (no such file)`);
        continue;
      }
      const quoted = [`'${title}'`, `"${title}"`, `\`${title}\``];
      if (!quoted.some((q) => source.includes(q))) missing.push(`${file} › ${title}`);
    }
    expect(missing).toEqual([]);
  });
});
