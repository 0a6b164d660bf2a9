import { z } from '@hono/zod-openapi';
import { publicIdSchema, toPublicId } from '../../platform/ids.ts';
import type { UserRow } from './users.tables.ts';

export const emailSchema = z
  .email()
  .max(254)
  .transform((email) => email.trim().toLowerCase())
  .meta({ example: 'ada@example.com' });

export const passwordSchema = z.string().min(12).max(128).meta({ example: 'correct horse battery staple' });

export const nameSchema = z.string().trim().min(1).max(100).meta({ example: 'Ada Lovelace' });

export const roleSchema = z.enum(['user', 'admin']);
export const tierSchema = z.enum(['free', 'premium', 'enterprise']);

export const userSchema = z
  .object({
    id: publicIdSchema('usr'),
    email: z.string().meta({ example: 'ada@example.com' }),
    name: z.string().nullable(),
    role: roleSchema,
    tier: tierSchema,
    quota_bytes: z.number().int().meta({ example: 1_073_741_824 }),
    bytes_used: z.number().int().meta({ example: 0 }),
    document_count: z.number().int().meta({ example: 0 }),
    disabled: z.boolean(),
    created_at: z.iso.datetime().meta({ example: '2026-11-24T14:28:58.000Z' }),
  })
  .meta({ id: 'User' });

export type User = z.infer<typeof userSchema>;

export const toUser = (row: UserRow): User => ({
  id: toPublicId('usr', row.id),
  email: row.email,
  name: row.name,
  role: row.role,
  tier: row.tier,
  quota_bytes: row.quotaBytes,
  bytes_used: row.bytesUsed,
  document_count: row.documentCount,
  disabled: row.disabledAt !== null,
  created_at: row.createdAt.toISOString(),
});
