import { checkPattern, matchesPattern } from '../../local/event-patterns';

const s3Event = {
  version: '0',
  id: 'e1',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '111111111111',
  region: 'us-gov-west-1',
  resources: ['arn:aws-us-gov:s3:::customer-a-outbox'],
  detail: {
    bucket: { name: 'customer-a-outbox' },
    object: { key: 'in/Report 1.CSV', size: 42, etag: 'abc', sequencer: '00A1' },
    reason: 'PutObject',
    flag: null,
  },
};

describe('the local EventBridge’s event patterns', () => {
  it.each([
    ['exact values of top-level fields', { source: ['aws.s3'], 'detail-type': ['Object Created'] }, true],
    ['any of several values', { source: ['aws.ec2', 'aws.s3'] }, true],
    ['a value that differs', { source: ['aws.S3'] }, false],
    ['nested fields', { detail: { bucket: { name: ['customer-a-outbox'] } } }, true],
    ['a field the event lacks', { detail: { object: { 'version-id': ['x'] } } }, false],
    ['prefix', { detail: { object: { key: [{ prefix: 'in/' }] } } }, true],
    ['prefix, not matching', { detail: { object: { key: [{ prefix: 'out/' }] } } }, false],
    ['prefix ignoring case', { detail: { object: { key: [{ prefix: { 'equals-ignore-case': 'IN/report' } }] } } }, true],
    ['suffix', { detail: { object: { key: [{ suffix: '.CSV' }] } } }, true],
    ['suffix is case-sensitive', { detail: { object: { key: [{ suffix: '.csv' }] } } }, false],
    ['equals-ignore-case', { detail: { reason: [{ 'equals-ignore-case': 'putobject' }] } }, true],
    ['wildcard', { detail: { object: { key: [{ wildcard: 'in/*.CSV' }] } } }, true],
    ['wildcard, not matching', { detail: { object: { key: [{ wildcard: 'in/*/x' }] } } }, false],
    ['anything-but a value', { detail: { reason: [{ 'anything-but': 'CopyObject' }] } }, true],
    ['anything-but a list', { detail: { reason: [{ 'anything-but': ['CopyObject', 'PutObject'] }] } }, false],
    ['anything-but a prefix', { detail: { object: { key: [{ 'anything-but': { prefix: 'in/' } }] } } }, false],
    ['anything-but on a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['exists', { detail: { object: { etag: [{ exists: true }] } } }, true],
    ['exists: false of a missing field', { detail: { object: { 'version-id': [{ exists: false }] } } }, true],
    ['exists: false of a present field', { detail: { object: { etag: [{ exists: false }] } } }, false],
    ['exists of an object is not a leaf', { detail: { bucket: [{ exists: true }] } }, false],
    ['null', { detail: { flag: [null] } }, true],
    ['numeric range', { detail: { object: { size: [{ numeric: ['>', 0, '<=', 42] }] } } }, true],
    ['numeric range, outside', { detail: { object: { size: [{ numeric: ['<', 42] }] } } }, false],
    ['numbers compare as numbers', { detail: { object: { size: [42.0] } } }, true],
    ['a string is not a number', { detail: { object: { sequencer: [{ numeric: ['>', 0] }] } } }, false],
    ['any element of an array field', { resources: ['arn:aws-us-gov:s3:::customer-a-outbox'] }, true],
    ['$or, one alternative matching', { $or: [{ source: ['aws.ec2'] }, { detail: { reason: ['PutObject'] } }] }, true],
    ['$or, none matching', { $or: [{ source: ['aws.ec2'] }, { account: ['2'] }] }, false],
  ])('%s', (_case, pattern, expected) => {
    checkPattern(pattern);
    expect(matchesPattern(pattern, s3Event)).toBe(expected);
  });

  it.each([
    ['an empty pattern', {}],
    ['a leaf that is not a list', { source: 'aws.s3' }],
    ['an empty list', { source: [] }],
    ['an unsupported matcher', { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }],
    ['a malformed numeric range', { detail: { size: [{ numeric: ['>', 'x'] }] } }],
    ['exists with a non-boolean', { detail: { size: [{ exists: 'yes' }] } }],
  ])('refuses %s when the rule is loaded', (_case, pattern) => {
    expect(() => checkPattern(pattern)).toThrow();
  });
});
