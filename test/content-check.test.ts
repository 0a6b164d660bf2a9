// The rule that decides whether a file's signature fits its declared type (ALLOWED_CONTENT_TYPES set).
import { describe, expect, it } from 'vitest';
import { bytesMatch } from '../src/modules/documents/content-check.ts';

describe('bytesMatch(declared, detected)', () => {
  it.each([
    ['image/png', 'image/png', true],
    ['image/png', 'application/pdf', false],
    ['image/png', undefined, false], // a type with a signature must show it
    ['text/plain', undefined, true], // text has none; it must not look like a binary format
    ['text/csv', 'image/png', false],
    ['application/json', undefined, true],
    ['image/jpg', 'image/jpeg', true],
    ['application/x-pdf', 'application/pdf', true],
    // ZIP-based formats may only show as a ZIP in their first bytes, and the other way round.
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/zip', true],
    ['application/vnd.oasis.opendocument.text', 'application/zip', true],
    ['application/zip', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', true],
    ['application/pdf', 'application/zip', false],
    // Legacy Office formats are Compound File Binary containers.
    ['application/msword', 'application/x-cfb', true],
    ['image/png', 'application/x-cfb', false],
    // "Some bytes": nothing to contradict.
    ['application/octet-stream', 'image/png', true],
    ['application/octet-stream', undefined, true],
  ] as const)('%s with bytes of %s → %s', (declared, detected, expected) => {
    expect(bytesMatch(declared, detected)).toBe(expected);
  });
});
