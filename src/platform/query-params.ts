import { z } from '@hono/zod-openapi';

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * An integer query parameter, parsed strictly: plain decimal digits only. `z.coerce.number()` goes
 * through `Number()`, which also takes `0x10`, `1e1`, `+5`, ` 5` and `''` (as 0). Documented as an
 * integer; anything else is 422 `validation_failed`.
 */
export const queryInt = (options: { min: number; max: number; default: number }) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value),
      z.number({ error: 'Must be a decimal integer' }).int().min(options.min).max(options.max),
    )
    .default(options.default);
