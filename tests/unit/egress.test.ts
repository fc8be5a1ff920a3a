/** GET /egress's domain (core/control-plane/egress/egress.ts): the addresses from the environment, checked. */
import { describeEgress, EgressQuerySchema, egressSettingsFromEnv } from '../../core/control-plane/egress/egress';

describe('egress addresses', () => {
  test('the stack’s comma-separated addresses, deduplicated and sorted, also as /32 ranges', () => {
    const settings = egressSettingsFromEnv({ AWS_REGION: 'us-gov-west-1', EGRESS_IPS: '3.30.0.11, 3.30.0.10,3.30.0.11' });
    expect(describeEgress(settings)).toEqual({
      region: 'us-gov-west-1',
      addresses: ['3.30.0.10', '3.30.0.11'],
      cidrs: ['3.30.0.10/32', '3.30.0.11/32'],
    });
  });

  test('none set (the local runtime leaves from its own machine): an empty list', () => {
    expect(describeEgress(egressSettingsFromEnv({ AWS_REGION: 'us-gov-east-1' }))).toEqual({
      region: 'us-gov-east-1',
      addresses: [],
      cidrs: [],
    });
  });

  test('a malformed address stops the container rather than being told to a customer', () => {
    expect(() => egressSettingsFromEnv({ AWS_REGION: 'us-gov-west-1', EGRESS_IPS: '3.30.0.10,not-an-ip' })).toThrow(
      /^EGRESS_IPS must be comma-separated IPv4 addresses/,
    );
  });

  test('the route takes no query parameters', () => {
    expect(EgressQuerySchema.safeParse({}).success).toBe(true);
    expect(EgressQuerySchema.safeParse({ region: 'east' }).success).toBe(false);
  });
});
