import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverRegistry } from '../../core/adapters/drivers';
import { S3Driver } from '../../core/adapters/s3/driver';
import { DEFAULT_S3_COPY_CONFIG } from '../../core/adapters/s3/server-side-copy-config';
import { copiesServerSide, flowTypeOf, isServerSideCopy } from '../../core/domain/drivers';
import type { Endpoint } from '../../core/domain/endpoint';
import { UnsupportedEndpointError, ValidationError } from '../../core/domain/errors';
import { resolveLocation } from '../../core/domain/locations';
import { builtInDrivers, engineDrivers } from '../support/drivers';
import { LocalFsDriver } from '../support/local-fs/driver';

const base = {
  customerId: 'c',
  direction: 'BOTH',
  status: 'ACTIVE',
  maxConcurrency: 4,
  createdAt: '',
  updatedAt: '',
  version: 1,
} as const;

describe('the drivers of the engine', () => {
  const drivers = engineDrivers();
  const s3: Endpoint = {
    ...base,
    endpointId: 'ep_s3',
    name: 's3',
    type: 'S3',
    s3: { bucket: 'b', prefix: '', region: 'us-gov-west-1', bucketOwner: '111111111111' },
  };
  const sftp = (type: 'SFTP' | 'TRANSFER_FAMILY_SFTP'): Endpoint => ({
    ...base,
    endpointId: `ep_${type}`,
    name: type,
    type,
    sftp: { host: 'h', port: 22, username: 'u', basePath: '/', authType: 'PASSWORD' },
  });

  it('names the flows the jobs have always stored', () => {
    const [S3, SFTP, TFS] = [
      drivers.driverFor(s3),
      drivers.driverFor(sftp('SFTP')),
      drivers.driverFor(sftp('TRANSFER_FAMILY_SFTP')),
    ];
    expect([flowTypeOf(SFTP, S3), flowTypeOf(S3, SFTP), flowTypeOf(S3, S3), flowTypeOf(TFS, SFTP)]).toEqual([
      'SFTP_TO_S3',
      'S3_TO_SFTP',
      'S3_TO_S3',
      'SFTP_TO_SFTP',
    ]);
  });

  it('copies server-side only between two S3 endpoints, also when asked by the stored flow', () => {
    const [S3, SFTP] = [drivers.driverFor(s3), drivers.driverFor(sftp('SFTP'))] as const;
    expect([copiesServerSide(S3, S3), copiesServerSide(S3, SFTP), copiesServerSide(SFTP, SFTP)]).toEqual([true, false, false]);
    expect(
      ['S3_TO_S3', 'S3_TO_SFTP', 'SFTP_TO_S3', 'SFTP_TO_SFTP'].map((flow) => isServerSideCopy(drivers, flow as never)),
    ).toEqual([true, false, false, false]);
  });

  it('refuses two drivers of one kind or for one type', () => {
    const s3Driver = () => new S3Driver({ s3: () => undefined as never, copyConfig: DEFAULT_S3_COPY_CONFIG });
    expect(() => new DriverRegistry([s3Driver(), s3Driver()])).toThrow('two drivers of kind S3');
  });
});

describe('a kind added from its own folder (LOCAL_FS, test-only)', () => {
  let root: string;
  let local: Endpoint;
  const drivers = new DriverRegistry([...builtInDrivers(), new LocalFsDriver()]);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'eft-local-fs-'));
    await mkdir(join(root, 'in'));
    await writeFile(join(root, 'in', 'a.csv'), 'abc');
    local = { ...base, endpointId: 'ep_local', name: 'local', type: 'LOCAL_FS', localFs: { root } };
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('is served by its driver: paths resolve under its root, with the traversal check of every kind', async () => {
    const driver = drivers.driverFor(local);
    const location = resolveLocation(drivers, local, 'in/a.csv');
    expect(location.uri).toBe(`file://${join(root, 'in', 'a.csv')}`);
    expect(() => resolveLocation(drivers, local, 'in/../../etc/passwd')).toThrow(ValidationError);
    expect(await driver.stat(local, location, 'in/a.csv')).toMatchObject({ path: 'in/a.csv', name: 'a.csv', size: 3 });
    expect(await driver.list(local, resolveLocation(drivers, local, 'in'), 'in', undefined, 10)).toHaveLength(1);
    expect(await driver.probe(local, undefined)).toEqual({ ok: true });
  });

  it('names its flows from its kind, and is no server-side copy', () => {
    expect(flowTypeOf(drivers.driverFor(local), drivers.driverFor({ type: 'S3', endpointId: 'ep_s3' }))).toBe('LOCAL_FS_TO_S3');
    expect(isServerSideCopy(drivers, 'LOCAL_FS_TO_LOCAL_FS')).toBe(false);
  });

  it('is unknown to an engine built without its driver', () => {
    expect(() => engineDrivers().driverFor(local)).toThrow(UnsupportedEndpointError);
  });
});
