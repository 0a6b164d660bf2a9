import { timestamp } from 'drizzle-orm/pg-core';

/** Every timestamp of the schema: `timestamptz(3)`, millisecond precision like the JS Date it maps to. */
export const timestamptz = () => timestamp({ withTimezone: true, precision: 3 });
