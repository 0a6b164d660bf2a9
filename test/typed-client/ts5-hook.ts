// openapi-typescript drives the TypeScript 5 compiler API (`ts.factory`), which TypeScript 7 (the native
// compiler this repository type-checks with) no longer ships as JavaScript: its `typescript` import is
// pointed at the `typescript5` alias, for openapi-typescript only.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'typescript' && context.parentURL?.includes('/openapi-typescript/')) {
      return next('typescript5', context);
    }
    return next(specifier, context);
  },
});
