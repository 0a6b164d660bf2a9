// What a document's fields may hold, and the problems the documents module answers with.
import { AppError } from '../../platform/problem.ts';
import { findUnstorableText, isStorableText, UNSTORABLE_MESSAGE } from '../../platform/storable-text.ts';

const METADATA_MAX_BYTES = 4096;
const NAME_MAX = 255;

export const invalidField = (path: string, message: string) =>
  new AppError('validation_failed', {
    detail: '1 field is invalid',
    errors: [{ location: 'body', path, message }],
  });

export const storageUnavailable = (cause: unknown) =>
  new AppError('service_unavailable', {
    detail: 'The document store is unavailable; retry later',
    headers: { 'Retry-After': '5' },
    cause,
  });

export const stale = () =>
  new AppError('precondition_failed', {
    detail:
      'The document changed since that ETag (If-Match). GET it again for the current ETag, then retry with that.',
  });

export function parseMetadata(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) throw invalidField('metadata', 'At most 4 KiB');
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const bad = findUnstorableText(value);
      if (bad !== undefined) throw invalidField(bad ? `metadata.${bad}` : 'metadata', UNSTORABLE_MESSAGE);
      return value as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
  }
  throw invalidField('metadata', 'Must be a JSON object');
}

export function checkName(name: string, path = 'name'): string {
  const trimmed = name.trim();
  // \p{Cc} includes NUL; an unpaired surrogate cannot be stored either (issue 10 #5).
  if (!trimmed || trimmed.length > NAME_MAX || /\p{Cc}/u.test(trimmed) || !isStorableText(trimmed)) {
    throw invalidField(path, `1–${NAME_MAX} characters, no control characters`);
  }
  return trimmed;
}
