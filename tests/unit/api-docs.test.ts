import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../local/service-config';
import { renderApiDocs } from '../../scripts/api-docs';

describe('docs/openapi.json and docs/api.md', () => {
  it.each(['openapi.json', 'api.md'] as const)(
    'docs/%s is what the schemas and the operation registry generate now (run `npm run docs` after changing them)',
    async (file) => {
      const committed = await readFile(join(PROJECT_ROOT, 'docs', file), 'utf8');
      expect(committed).toBe((await renderApiDocs())[file]);
    },
    60_000,
  );
});
