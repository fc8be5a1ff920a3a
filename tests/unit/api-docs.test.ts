import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../local/service-config';
import { renderApiDocs } from '../../scripts/api-docs';

describe('docs/api.md', () => {
  it('is what the schemas and serverless.yml generate now (run `npm run docs` after changing them)', async () => {
    const committed = await readFile(join(PROJECT_ROOT, 'docs', 'api.md'), 'utf8');
    expect(committed).toBe(await renderApiDocs());
  }, 60_000);
});
