import type { Drivers, EndpointDriver } from '../domain/drivers';
import type { Endpoint } from '../domain/endpoint';
import { UnsupportedEndpointError } from '../domain/errors';

/** The drivers an engine is built with (core/runtime/wiring.ts), found by the endpoint types they serve. */
export class DriverRegistry implements Drivers {
  private readonly byType = new Map<string, EndpointDriver>();
  private readonly byKind = new Map<string, EndpointDriver>();

  constructor(drivers: readonly EndpointDriver[]) {
    for (const driver of drivers) {
      // The kind names flows (SFTP_TO_S3): two drivers of one kind would make a flow ambiguous.
      if (this.byKind.has(driver.kind)) throw new Error(`two drivers of kind ${driver.kind}`);
      this.byKind.set(driver.kind, driver);
      for (const type of driver.types) {
        if (this.byType.has(type)) throw new Error(`two drivers serve endpoint type ${type}`);
        this.byType.set(type, driver);
      }
    }
  }

  driverFor(endpoint: Pick<Endpoint, 'type' | 'endpointId'>): EndpointDriver {
    const driver = this.byType.get(endpoint.type);
    if (!driver) throw new UnsupportedEndpointError(endpoint.endpointId, endpoint.type);
    return driver;
  }

  driverOfKind(kind: string): EndpointDriver | undefined {
    return this.byKind.get(kind);
  }
}
