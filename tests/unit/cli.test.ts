import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceOf, targetOf } from '../../cli/commands/cp';
import { seconds } from '../../cli/commands/triggers';
import { findLocalState, resolveTarget } from '../../cli/config';
import { EXIT } from '../../cli/errors';
import { exitCodeOf, summarize, summaryText } from '../../cli/summary';
import type { JobView } from '../../core/api/types';

describe('eft cp: <endpoint>:<path> as the API takes it', () => {
  it.each([
    ['/daily/*.csv', { path: 'daily/', pattern: '*.csv' }],
    ['/daily/', { path: 'daily/' }],
    ['daily/report-?.txt', { path: 'daily/', pattern: 'report-?.txt' }],
    ['/daily/report.csv', { path: 'daily/report.csv' }],
    ['/a/b/c/', { path: 'a/b/c/' }],
  ])('source %s', (path, expected) => {
    expect(sourceOf(path)).toEqual(expected);
  });

  it.each([
    ['/', { path: '/' }],
    ['', { path: '/' }],
    ['/*.csv', { path: '/', pattern: '*.csv' }],
  ])('source %p is the endpoint’s base folder', (path, expected) => {
    expect(sourceOf(path)).toEqual(expected);
  });

  it('refuses a wildcard in a folder name (the API matches names in one folder)', () => {
    expect(() => sourceOf('/da*/x.csv')).toThrow(expect.objectContaining({ exitCode: EXIT.USAGE }));
  });

  it.each([
    ['/incoming/', { path: 'daily/', pattern: '*.csv' }, 'incoming'],
    ['/', { path: 'daily/' }, '/'],
    ['/incoming/', { path: 'daily/report.csv' }, 'incoming/report.csv'],
    ['/', { path: 'daily/report.csv' }, 'report.csv'],
    ['/incoming/renamed.csv', { path: 'daily/report.csv' }, 'incoming/renamed.csv'],
  ])('target %s for source %j is %s', (path, source, expected) => {
    expect(targetOf(path, source)).toBe(expected);
  });
});

describe('eft schedules --every', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['5m', 300],
    ['1h', 3600],
    ['1d', 86400],
  ])('%s is %d seconds', (text, expected) => {
    expect(seconds(text)).toBe(expected);
  });

  it('refuses anything else as a usage error', () => {
    expect(() => seconds('5 minutes')).toThrow(expect.objectContaining({ exitCode: EXIT.USAGE }));
  });
});

describe('the summary after watching jobs', () => {
  const job = (status: string, extra: Partial<JobView> = {}) =>
    ({
      jobId: `job_${status.toLowerCase()}`,
      status,
      source: { endpointId: 'ep_x', path: `in/${status}.csv` },
      bytesTransferred: 10,
      ...extra,
    }) as unknown as JobView;

  it('counts delivered bytes of succeeded jobs and exits 0 when all succeeded', () => {
    const summary = summarize([job('SUCCEEDED', { result: { bytes: 100 } as JobView['result'] }), job('SUCCEEDED')]);
    expect(summary).toMatchObject({ jobCount: 2, succeeded: 2, failed: 0, bytes: 110, failures: [] });
    expect(exitCodeOf(summary)).toBe(EXIT.OK);
  });

  it('names each failed or cancelled job with its code, says what to do, and exits 1', () => {
    const failed = job('FAILED', { error: { code: 'TARGET_EXISTS', message: 'a different object is there' } });
    const summary = summarize([job('SUCCEEDED'), failed, job('CANCELLED')]);
    expect(summary).toMatchObject({ succeeded: 1, failed: 1, cancelled: 1 });
    expect(exitCodeOf(summary)).toBe(EXIT.FAILED);
    const text = summaryText(summary);
    expect(text).toContain('FAILED job_failed TARGET_EXISTS: a different object is there (in/FAILED.csv)');
    expect(text).toContain('eft jobs redrive job_failed');
    expect(text).toContain('CANCELLED job_cancelled');
  });
});

describe('where the CLI finds the local engine', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'eft-cli-unit-'));
    await mkdir(join(root, '.eft'));
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await writeFile(join(root, '.eft', 'local.json'), JSON.stringify({ apis: {}, customers: [] }));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('walks up from the working folder to .eft/local.json', () => {
    expect(findLocalState({}, join(root, 'a', 'b'))).toBe(join(root, '.eft', 'local.json'));
  });

  it('takes EFT_LOCAL_STATE first, as a folder or as the file', () => {
    expect(findLocalState({ EFT_LOCAL_STATE: '/elsewhere' }, root)).toBe('/elsewhere/local.json');
    expect(findLocalState({ EFT_LOCAL_STATE: '/elsewhere/x.json' }, root)).toBe('/elsewhere/x.json');
  });

  it('signs as a demo customer for the local engine, and takes the region from a deployment URL', async () => {
    const state = join(root, 'state.json');
    const customers = [{ customerId: 'customer-b', accessKeyId: 'AKIAB', secretAccessKey: 'b' }];
    await writeFile(state, JSON.stringify({ apis: { 'us-gov-east-1': 'http://127.0.0.1:1' }, customers }));
    const local = await resolveTarget(
      { endpointUrl: 'http://127.0.0.1:1/', localCustomer: 'customer-b' },
      { EFT_LOCAL_STATE: state },
    );
    expect(local).toMatchObject({ region: 'us-gov-east-1', credentials: { accessKeyId: 'AKIAB' } });
    const aws = await resolveTarget(
      { endpointUrl: 'https://abc123.execute-api.us-gov-west-1.amazonaws.com/prod' },
      { EFT_LOCAL_STATE: state },
    );
    expect(aws.region).toBe('us-gov-west-1');
    expect(typeof aws.credentials).toBe('function');
  });

  it('says how to start the engine when there is no local.json and no URL', async () => {
    await expect(resolveTarget({}, { EFT_LOCAL_STATE: join(root, 'missing') })).rejects.toMatchObject({
      exitCode: EXIT.UNREACHABLE,
      message: expect.stringContaining('npm start'),
    });
  });
});
