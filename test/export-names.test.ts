import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createEntryNamer, safeSegment } from '../src/modules/exports/entry-names.ts';

const require = createRequire(import.meta.url);

describe('ZIP entry names', () => {
  it('never escape the archive, carry no control characters, and stay unique', () => {
    expect(safeSegment('../../etc/passwd')).toBe('_.._etc_passwd');
    expect(safeSegment('/abs/path.txt')).toBe('_abs_path.txt');
    expect(safeSegment('C:\\Windows\\x.dll')).toBe('C__Windows_x.dll');
    expect(safeSegment('..')).toBe('untitled');
    expect(safeSegment(' \u0000\t\u200b ')).toBe('untitled');
    expect(safeSegment('a\u0007b\nc.txt. ')).toBe('abc.txt');
    expect(Buffer.byteLength(safeSegment('é'.repeat(300)))).toBeLessThanOrEqual(200);
    const name = createEntryNamer();
    expect(['a.pdf', 'A.PDF', 'a.pdf', 'a (2).pdf', 'archive.tar.gz', 'archive.tar.gz'].map(name)).toEqual([
      'documents/a.pdf',
      'documents/A (2).PDF',
      'documents/a (3).pdf',
      'documents/a (2) (2).pdf',
      'documents/archive.tar.gz',
      'documents/archive.tar (2).gz',
    ]);
  });

  it('the bundle’s native CRC-32 shim answers exactly like buffer-crc32', () => {
    const native = require('../src/modules/exports/native-crc32.cjs');
    const js = require(require.resolve('buffer-crc32', { paths: [require.resolve('yazl')] }));
    const bytes = randomBytes(100_003);
    expect(native.unsigned(bytes.subarray(777), native.unsigned(bytes.subarray(0, 777)))).toBe(
      js.unsigned(bytes.subarray(777), js.unsigned(bytes.subarray(0, 777))),
    );
    expect(native.signed(bytes)).toBe(js.signed(bytes));
    expect(native(bytes).equals(js(bytes))).toBe(true);
    expect(native.unsigned('')).toBe(js.unsigned(''));
  });
});
