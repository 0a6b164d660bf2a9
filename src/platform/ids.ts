import { TypeID, typeid } from 'typeid-js';
import { z } from 'zod';

// Public ids are TypeIDs (`usr_01h…`): a prefix naming the resource over a UUIDv7, which is what the
// database stores. Time-ordered ids keep btree inserts local and make `id` a usable tie-breaker.
export type IdPrefix = 'usr' | 'doc' | 'key' | 'evt' | 'exp' | 'ses';

/** A new UUIDv7 for a database row. */
export const newUuid = (): string => typeid().toUUID();

export const toPublicId = (prefix: IdPrefix, uuid: string): string =>
  TypeID.fromUUID(prefix, uuid).toString();

/** The prefix of each kind of resource an audit event or log line names. */
const PREFIX_OF_KIND: Record<string, IdPrefix> = {
  user: 'usr',
  document: 'doc',
  api_key: 'key',
  session: 'ses',
  export: 'exp',
};

/** The id a customer sees (`doc_…`) for a row id of `kind`; an unknown kind keeps the raw id. */
export const publicIdOf = (kind: string, uuid: string): string => {
  const prefix = PREFIX_OF_KIND[kind];
  try {
    return prefix ? toPublicId(prefix, uuid) : uuid;
  } catch {
    return uuid;
  }
};

/** The row id behind a public id, or undefined when it is malformed or of another resource. */
export function fromPublicId(prefix: IdPrefix, id: string): string | undefined {
  try {
    return TypeID.fromString(id, prefix).toUUID();
  } catch {
    return undefined;
  }
}

/** Path/body schema of a public id: validates the shape (422 on garbage) and documents an example. */
export const publicIdSchema = (prefix: IdPrefix) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}_[0-7][0-9a-hjkmnp-tv-z]{25}$`), `must be a ${prefix}_ id`)
    // The pattern admits strings that are no UUID (version and variant bits): the schema must accept
    // exactly what the decoder does, or a handler receives an id it cannot decode (a 500 in exports).
    .refine((id) => fromPublicId(prefix, id) !== undefined, `must be a ${prefix}_ id`)
    .meta({ example: `${prefix}_01jdx5m7kqf3v9r2w8y4t6n0hc` });
