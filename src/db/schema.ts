// Every table, for drizzle-kit and the typed client. Each module owns its tables and is the only one to
// query them; others go through its service.
export * from '../modules/api-keys/api-keys.tables.ts';
export * from '../modules/audit/audit.tables.ts';
export * from '../modules/auth/auth.tables.ts';
export * from '../modules/documents/documents.tables.ts';
export * from '../modules/exports/exports.tables.ts';
export * from '../modules/users/users.tables.ts';
export * from './platform.tables.ts';
