/**
 * The direction of dependencies inside core/: the domain depends on nothing of
 * the engine's, adapters depend on the domain only (and on each other), so
 * services, handlers and the worker can depend on both without a cycle.
 * Every import form counts: `import`, `import type`, `export … from`, dynamic
 * `import()` and `require()`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const CORE = resolve(__dirname, '..', '..', 'core');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** What each file of `folder` imports: the module specifier, and for a relative one the core/ path it names. */
function importsOf(folder: string): { file: string; specifier: string; target?: string }[] {
  return sourceFiles(folder).flatMap((file) =>
    ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map(({ fileName: specifier }) => ({
      file: relative(CORE, file).split(sep).join('/'),
      specifier,
      ...(specifier.startsWith('.')
        ? {
            target: relative(CORE, resolve(dirname(file), specifier))
              .split(sep)
              .join('/'),
          }
        : {}),
    })),
  );
}

const folderOf = (target: string) => target.split('/')[0] ?? '';

describe('dependency rules of core/', () => {
  test('core/adapters imports no service, handler or worker code: only core/domain and other adapters', () => {
    const upward = ['control-plane', 'data-plane', 'connectivity', 'runtime', 'observability'];
    const violations = importsOf(join(CORE, 'adapters'))
      .filter(({ target }) => target !== undefined && (target.startsWith('..') || upward.includes(folderOf(target))))
      .map(({ file, specifier }) => `${file} imports ${specifier}`);
    expect(violations).toEqual([]);
  });

  test('core/domain imports nothing outside core/domain but Node’s built-in modules', () => {
    const violations = importsOf(join(CORE, 'domain'))
      .filter(({ specifier, target }) => (target === undefined ? !specifier.startsWith('node:') : folderOf(target) !== 'domain'))
      .map(({ file, specifier }) => `${file} imports ${specifier}`);
    expect(violations).toEqual([]);
  });

  test("core/control-plane and core/data-plane import no adapter: they reach AWS and SFTP through the domain's ports", () => {
    const violations = [...importsOf(join(CORE, 'control-plane')), ...importsOf(join(CORE, 'data-plane'))]
      .filter(({ specifier, target }) => {
        const sdk = specifier.startsWith('@aws-sdk/') || /^ssh2($|[-/])/.test(specifier);
        return sdk || (target !== undefined && folderOf(target) === 'adapters');
      })
      .map(({ file, specifier }) => `${file} imports ${specifier}`);
    expect(violations).toEqual([]);
  });

  test('no cycle between the folders of core/ (nor between those of the planes and adapters)', () => {
    // A folder is core/<top>, or core/<top>/<sub> inside the planes and adapters, where the seams are.
    const folderKey = (path: string) => {
      const [top = '', sub] = path.split('/');
      return ['control-plane', 'data-plane', 'adapters'].includes(top) && sub && !sub.endsWith('.ts') ? `${top}/${sub}` : top;
    };
    const edges = new Map<string, Set<string>>();
    for (const { file, target } of importsOf(CORE)) {
      if (target === undefined || target.startsWith('..')) continue;
      const [from, to] = [folderKey(file), folderKey(target)];
      if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
    const cycles: string[] = [];
    const visit = (folder: string, path: string[]) => {
      for (const next of edges.get(folder) ?? []) {
        if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next].join(' → '));
        else visit(next, [...path, next]);
      }
    };
    for (const folder of edges.keys()) visit(folder, [folder]);
    expect(cycles).toEqual([]);
  });

  test('the scan sees every import form', () => {
    const source = [
      "import { a } from './a';",
      "import type { B } from './b';",
      "export { c } from './c';",
      "export * from './d';",
      "const e = await import('./e');",
      "const f = require('./f');",
    ].join('\n');
    expect(ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName)).toEqual([
      './a',
      './b',
      './c',
      './d',
      './e',
      './f',
    ]);
  });
});
