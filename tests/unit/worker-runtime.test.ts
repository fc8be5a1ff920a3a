/**
 * The container (fargate-worker/Dockerfile) runs the worker with the Node
 * flags and environment that everything else takes from
 * fargate-worker/runtime.ts; the Dockerfile cannot import them, so this keeps
 * the two the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../fargate-worker/runtime';

const dockerfile = readFileSync(join(__dirname, '..', '..', 'fargate-worker', 'Dockerfile'), 'utf8');
/** The runtime stage: everything after the last FROM. */
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

describe('the worker container', () => {
  it('runs node with WORKER_NODE_FLAGS', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(runtimeStage)?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...WORKER_NODE_FLAGS, 'main.js']);
  });

  it('sets WORKER_ENV', () => {
    const env: Record<string, string> = {};
    for (const [, body] of runtimeStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)) {
      for (const [, name, value] of (body as string).matchAll(/(\w+)=(\S+)/g)) env[name as string] = value as string;
    }
    expect(env).toEqual(WORKER_ENV);
  });
});
