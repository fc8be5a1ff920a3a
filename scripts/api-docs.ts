/**
 * Writes docs/openapi.json, the OpenAPI 3.1 document built from the schemas the
 * handlers validate with and the views are typed by (core/api/openapi.ts), and
 * docs/api.md rendered from that document (core/api/markdown.ts), so neither
 * can drift from what the API accepts and answers. `npm run docs` rewrites
 * both; a test fails when either is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderApiMarkdown } from '../core/api/markdown';
import { buildOpenApiDocument } from '../core/api/openapi';
import { PROJECT_ROOT } from '../local/service-config';

export interface ApiDocs {
  'openapi.json': string;
  'api.md': string;
}

export async function renderApiDocs(): Promise<ApiDocs> {
  const { version } = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  const document = buildOpenApiDocument(version);
  return {
    'openapi.json': `${JSON.stringify(document, null, 2)}\n`,
    'api.md': renderApiMarkdown(JSON.parse(JSON.stringify(document))),
  };
}

if (require.main === module) {
  renderApiDocs()
    .then((docs) => Promise.all(Object.entries(docs).map(([file, text]) => writeFile(join(PROJECT_ROOT, 'docs', file), text))))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
