// Drizzle table definitions. Each resource's tables are added here by the module that owns them; the
// SQL in drizzle/ is generated from this file (`pnpm db:generate`) and applied by `pnpm db:migrate`.
export {};
