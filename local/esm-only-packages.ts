import { registerHooks } from 'node:module';

/**
 * Middy 7 publishes only an "import" export condition. esbuild honours it when
 * bundling the deployed functions (the handlers `import` Middy); here, where
 * tsx runs the same handlers as CommonJS, this hook lets require() take that
 * same entry, for Middy alone (a global --conditions=import would switch dual
 * packages such as tslib to their ESM builds and break them).
 */
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (!specifier.startsWith('@middy/')) return nextResolve(specifier, context);
    return nextResolve(specifier, { ...context, conditions: [...(context.conditions ?? []), 'import'] });
  },
});
