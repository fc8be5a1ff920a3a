import { join } from 'node:path';

/**
 * Loads a function's handler ("functions/x/y.handler" as serverless.yml names
 * it) from the same module the deployment bundles; tsx, this process's loader,
 * compiles it. Lambda does the equivalent when a container starts.
 */
export function loadHandler<H extends (...args: never[]) => unknown>(handlerPath: string, root: string): H {
  const dot = handlerPath.lastIndexOf('.');
  const module = require(join(root, handlerPath.slice(0, dot))) as Record<string, unknown>;
  const handler = module[handlerPath.slice(dot + 1)];
  if (typeof handler !== 'function') throw new Error(`${handlerPath} is not a function`);
  return handler as H;
}
