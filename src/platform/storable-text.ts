/**
 * Text Postgres can store. A NUL character is refused by `text` and `jsonb` alike, and an unpaired
 * UTF-16 surrogate (`"\ud800"` in JSON) cannot be encoded as UTF-8 (jsonb refuses its escape): both used
 * to reach the database and come back as 500s. Every input is checked once, at the validation hook
 * (so every route gets it), and the inputs parsed by hand (multipart fields, cursors) call it too.
 */
export const UNSTORABLE_MESSAGE = 'Must not contain NUL characters or unpaired UTF-16 surrogates';

export const isStorableText = (text: string): boolean => !text.includes('\0') && text.isWellFormed();

/** The path of the first string (or object key) in `value` that is not storable text, if any. */
export function findUnstorableText(value: unknown, path: (string | number)[] = []): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path.join('.');
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findUnstorableText(item, [...path, index]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return [...path, key.replace(/[\0\ud800-\udfff]/g, '\ufffd')].join('.');
      const found = findUnstorableText(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
