import type { Endpoint } from '../domain/endpoint';
import { TransferError } from '../domain/transfer/errors';
import type { DataPlaneDriver, DataPlaneDrivers } from '../domain/transfer/io';

/** The worker's data-plane drivers by endpoint type, as its entry point lists them. */
export function dataPlaneDrivers(byType: Partial<Record<Endpoint['type'], DataPlaneDriver>>): DataPlaneDrivers {
  return {
    driverFor(endpoint) {
      const driver = byType[endpoint.type];
      if (!driver) {
        throw new TransferError(
          'UNSUPPORTED_ENDPOINT',
          `the worker has no driver for ${endpoint.type} endpoints (${endpoint.endpointId})`,
        );
      }
      return driver;
    },
  };
}
