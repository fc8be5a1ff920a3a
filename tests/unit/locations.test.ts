import type { Endpoint } from '../../core/domain/endpoint';
import { BucketOwnerUnknownError, UnsupportedEndpointError, ValidationError } from '../../core/domain/errors';
import { resolveLocation } from '../../core/domain/locations';
import { engineDrivers } from '../support/drivers';

const drivers = engineDrivers();
const base = {
  customerId: 'c',
  endpointId: 'ep_1',
  name: 'n',
  direction: 'BOTH',
  status: 'ACTIVE',
  maxConcurrency: 4,
  createdAt: '',
  updatedAt: '',
  version: 1,
} as const;
const sftp: Endpoint = {
  ...base,
  type: 'SFTP',
  sftp: { host: 'h', port: 22, username: 'u', basePath: '/out', authType: 'PASSWORD' },
};
const s3: Endpoint = {
  ...base,
  type: 'S3',
  s3: { bucket: 'b', prefix: 'in', region: 'us-gov-west-1', bucketOwner: '111111111111' },
};

describe('resolveLocation: a path stays under the endpoint, whatever was stored', () => {
  it.each(['..\\..\\etc\\passwd', 'a\\..\\..\\x', 'a/../x', './x', 'a/.../x', 'a//x', 'x\u0000'])(
    'refuses %j (also as a path stored before the API refused it)',
    (path) => {
      expect(() => resolveLocation(drivers, sftp, path, 'sourcePath')).toThrow(ValidationError);
      expect(() => resolveLocation(drivers, s3, path, 'sourcePath')).toThrow(ValidationError);
    },
  );

  it('joins the path under the base path or prefix, with the bucket owner', () => {
    expect(resolveLocation(drivers, sftp, 'day/file.csv')).toEqual({
      kind: 'sftp',
      uri: 'sftp://h:22/out/day/file.csv',
      path: '/out/day/file.csv',
    });
    expect(resolveLocation(drivers, s3, 'day/file.csv')).toEqual({
      kind: 's3',
      uri: 's3://b/in/day/file.csv',
      bucket: 'b',
      key: 'in/day/file.csv',
      region: 'us-gov-west-1',
      owner: '111111111111',
    });
  });

  it('refuses an S3 endpoint that names no bucket owner (registered before ownership was enforced)', () => {
    const legacy: Endpoint = { ...s3, s3: { bucket: 'b', prefix: 'in', region: 'us-gov-west-1' } };
    expect(() => resolveLocation(drivers, legacy, 'x')).toThrow(BucketOwnerUnknownError);
  });

  it('refuses an endpoint of a type no driver serves', () => {
    const unknown = { ...sftp, type: 'FTP' } as unknown as Endpoint;
    expect(() => resolveLocation(drivers, unknown, 'x')).toThrow(UnsupportedEndpointError);
  });
});
