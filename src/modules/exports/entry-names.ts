// ZIP entry names from user-chosen document names. A name must never escape the extraction directory
// (`..`, absolute paths, drive letters), carry control characters, or collide with another entry: an
// unzip that overwrites one document with another loses data silently.

const MAX_NAME_BYTES = 200;
export const DOCUMENTS_DIR = 'documents/';

/** One path segment: no separators, no control characters, no leading dots or trailing dots/spaces. */
export function safeSegment(name: string): string {
  let safe = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/[/\\:*?"<>|]/g, '_')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  while (Buffer.byteLength(safe) > MAX_NAME_BYTES) safe = [...safe].slice(0, -1).join('');
  return safe || 'untitled';
}

const splitExtension = (name: string): [string, string] => {
  const dot = name.lastIndexOf('.');
  return dot > 0 && name.length - dot <= 16 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
};

/**
 * Hands out unique entry paths under `documents/`. Duplicates (compared case-insensitively, as on
 * macOS and Windows) get ` (2)`, ` (3)`… before the extension.
 */
export function createEntryNamer() {
  const taken = new Set<string>();
  return (name: string): string => {
    const segment = safeSegment(name);
    const [stem, extension] = splitExtension(segment);
    for (let n = 1; ; n++) {
      const candidate = `${DOCUMENTS_DIR}${n === 1 ? segment : `${stem} (${n})${extension}`}`;
      const key = candidate.toLowerCase();
      if (!taken.has(key)) {
        taken.add(key);
        return candidate;
      }
    }
  };
}
