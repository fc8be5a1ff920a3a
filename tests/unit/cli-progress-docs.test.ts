import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Recording, withSamples } from '../../cli/progress/replay';

const ROOT = join(__dirname, '..', '..');

describe('docs/cli-progress.md', () => {
  test('its samples are what the code produces from the recorded run (npx tsx cli/progress/replay.ts … --docs rewrites them)', async () => {
    const page = await readFile(join(ROOT, 'docs', 'cli-progress.md'), 'utf8');
    const recording = JSON.parse(await readFile(join(ROOT, 'cli', 'progress', 'sample-recording.json'), 'utf8')) as Recording;
    expect(page.match(/<!-- sample: /g)?.length).toBeGreaterThanOrEqual(5);
    expect(await withSamples(page, recording)).toBe(page);
  });
});
